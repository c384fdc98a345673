"""`import lbalgo` stays light: kernels compile lazily, heavy modules load on first use."""

import subprocess
import sys


def test_import_does_not_load_numba_scipy_or_the_simulator():
    code = ("import sys, lbalgo; heavy = ['numba', 'scipy', 'yaml', 'lbalgo.sim', 'lbalgo.kube',"
            " 'lbalgo.schedulers.affinity']; print([m for m in heavy if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_lazy_names_resolve():
    import lbalgo

    assert callable(lbalgo.simulate)
    assert lbalgo.ClientIPAffinity.__name__ == "ClientIPAffinity"
    assert lbalgo.workloads.Workload is not None
    assert callable(lbalgo.disruption)
    from lbalgo import Simulation, workloads  # noqa: F401  (the ``from`` form works too)
