"""`import lbalgo` stays light: kernels compile lazily, heavy modules load on first use."""

import subprocess
import sys
import textwrap


def test_import_does_not_load_numba_scipy_or_the_simulator():
    code = ("import sys, lbalgo; heavy = ['numba', 'scipy', 'yaml', 'lbalgo.sim', 'lbalgo.kube',"
            " 'lbalgo.schedulers.affinity']; print([m for m in heavy if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


LAZY = textwrap.dedent("""
    import lbalgo
    from lbalgo import DH, RR, simulate, workloads  # the ``from`` form loads them too
    gen = workloads.Workload(arrivals=workloads.constant_rate(1.0), n=4, lifetimes=workloads.constant(0.5))
    print(simulate(RR(weights=[1, 1]), gen).trace.backend.tolist())
    aff = lbalgo.ClientIPAffinity(RR(weights=[1, 1]), timeout=100, mode="ipvs")
    print([aff.pick(k, now=t) for k, t in (("10.0.0.1", 0.0), ("10.0.0.2", 1.0), ("10.0.0.1", 2.0))])
    before, after = DH(weights=[1, 1]), DH(weights=[1, 1])
    after.set_weight(1, 0)
    d = lbalgo.disruption(before, after, [0x0A000001 + k for k in range(1000)])
    print(d.moved == d.forced == int((d.before == 1).sum()) > 0)
""")


def test_lazy_names_work_on_first_use():
    out = subprocess.run([sys.executable, "-c", LAZY], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[0, 1, 0, 1]", "[0, 1, 0]", "True"]
