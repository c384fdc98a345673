"""Kubernetes ``sessionAffinity: ClientIP`` in kube-proxy's three data planes.

kube-proxy builds ClientIP affinity from xt_recent lists (iptables mode),
dynamic sets with timeouts (nftables mode) or IPVS persistence templates (ipvs
mode). The three disagree at the edges; this script shows three of them for a
Service with three endpoints and ``timeoutSeconds: 10``:

1. a client that comes back exactly ``timeoutSeconds`` after its last
   connection: still pinned by xt_recent (``--seconds`` is inclusive), no longer
   by an nftables set or an IPVS template;
2. a client whose first connection is still open: only an IPVS template
   keeps the client pinned (it re-arms in 60 s steps while it controls a
   connection);
3. an endpoint set to weight 0 (kube-proxy drops it from the rules while it
   terminates): every mode moves the client, except IPVS with the sysctl
   ``expire_quiescent_template`` off.

Run: python docs/examples/session_affinity.py
"""

from lbalgo import RR, ClientIPAffinity, IptablesCascade, NftNumgen

CLIENT = "10.0.0.7"
TIMEOUT = 10  # timeoutSeconds


def service(mode, **options):
    """Return three endpoints behind kube-proxy's own choice for ``mode``, with ClientIP affinity."""
    inner = {"iptables": IptablesCascade(weights=[1, 1, 1], seed=1),
             "nftables": NftNumgen(weights=[1, 1, 1], seed=1),
             "ipvs": RR(weights=[1, 1, 1])}[mode]
    return ClientIPAffinity(inner, timeout=TIMEOUT, mode=mode, **options)


def pinned(aff, now):
    """Return the endpoint ``CLIENT`` is pinned to at ``now``, or "-"."""
    pins = {str(address): pin.backend for address, pin in aff.pinned(now).items()}
    return pins.get(CLIENT, "-")


MODES = ["iptables", "nftables", "ipvs"]

print("1. connection at t=0 s, closed at t=1 s: pinned endpoint at t = ...")
print(f"   {'mode':<10}{'9.99 s':>8}{'10.00 s':>9}")
for mode in MODES:
    aff = service(mode)
    b = aff.pick(key=CLIENT, now=0.0)
    aff.release(b, key=CLIENT, now=1.0)
    print(f"   {mode:<10}{pinned(aff, 9.99):>8}{pinned(aff, 10.0):>9}")

print()
print("2. connection at t=0 s, still open: pinned endpoint at t = ...")
print(f"   {'mode':<10}{'5 s':>8}{'30 s':>9}{'600 s':>9}")
for mode in MODES:
    aff = service(mode)
    aff.pick(key=CLIENT, now=0.0)
    print(f"   {mode:<10}{pinned(aff, 5.0):>8}{pinned(aff, 30.0):>9}{pinned(aff, 600.0):>9}")

print()
print("3. the client's endpoint goes to weight 0, then back to 1: where its next connections go")
print(f"   {'mode':<36}{'before':>7}{'weight 0':>10}{'weight 1 again':>16}")
for mode, options in [("iptables", {}), ("nftables", {}), ("ipvs", {}),
                      ("ipvs", {"expire_quiescent_template": False})]:
    aff = service(mode, **options)
    label = mode + ("" if not options else ", expire_quiescent_template=0")
    first = aff.pick(key=CLIENT, now=0.0)
    aff.set_weight(first, 0)
    during = aff.pick(key=CLIENT, now=1.0)
    aff.set_weight(first, 1)
    after = aff.pick(key=CLIENT, now=2.0)
    print(f"   {label:<36}{first:>7}{during:>10}{after:>16}")
