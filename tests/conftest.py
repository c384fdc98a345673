import importlib

import pytest
from hypothesis import HealthCheck, settings

from tests.support import FIXED_VERSIONS

# Kernels compile on first use, which can take seconds: no per-example deadline.
settings.register_profile("lbalgo", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("lbalgo")


@pytest.fixture
def fixed_versions(monkeypatch):
    """Pin the versions a comparison report records (the golden files hold these)."""
    module = importlib.import_module("lbalgo.report.compare")  # (the attribute of that name is the function)
    monkeypatch.setattr(module, "_versions", lambda: dict(FIXED_VERSIONS))
