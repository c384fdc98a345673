import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hypothesis import HealthCheck, settings  # noqa: E402

# Kernels compile on first use, which can take seconds: no per-example deadline.
settings.register_profile("lbalgo", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("lbalgo")

KEY_POOL = np.array([0x0A000001 + 7919 * i for i in range(64)], dtype=np.int64)


def keys_for(cls, n, seed=0):
    """Keys a test can pass to any scheduler: small IPv4 population, Zipf-ish reuse."""
    rng = np.random.default_rng(seed)
    return KEY_POOL[rng.integers(0, len(KEY_POOL), size=n)]


@pytest.fixture
def key_pool():
    return KEY_POOL
