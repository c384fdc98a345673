""""iptables is O(n), IPVS is O(1)" as a model of first-packet dispatch work.

What one node does for the **first packet of a new connection** to one of
``S`` services, each with one port and ``n`` endpoints, as the rules of
``syncProxyRules`` in kube-proxy's ``pkg/proxy/iptables/proxier.go``,
``pkg/proxy/nftables/proxier.go`` and ``pkg/proxy/ipvs/proxier.go`` lay it out. Later
packets follow conntrack in every mode and cost the same.

iptables (per service in ``KUBE-SERVICES``, one rule per frontend)::

    KUBE-SERVICES   k rules to reach the service's rule (k uniform in 1..S: mean (S+1)/2)
    KUBE-SVC-…      1 masquerade rule (with a cluster CIDR)
                    + n ``recent --rcheck`` rules with ClientIP affinity (a new client tries all)
                    + the statistic cascade: endpoint i is reached after i+1 rules,
                      mean sum_i share_i*(i+1) = (n+1)/2 (exact quantised shares)
    KUBE-SEP-…      2 rules (hairpin check, DNAT)

nftables::

    services        1 rule: one verdict-map lookup (ip . proto . port)
    service-…       1 masquerade rule + n affinity-set lookups with ClientIP
                    + 1 ``numgen`` rule: one draw and one vmap lookup
    endpoint-…      2 rules (3 with affinity: the set update)

IPVS::

    iptables        a constant handful of rules whose ipset matches are hash lookups
    ip_vs_in        connection-table hash miss, virtual-service hash lookup, then the
                    scheduler: rr/wrr/sh/dh/mh O(1); lc/wlc/sed/nq/fo/ovf/twos/lblc/lblcr scan all n
                    real servers

userspace (``pkg/proxy/userspace``, Kubernetes up to 1.25)::

    KUBE-PORTALS-*  k rules to reach the service's portal rule (one per frontend, like
                    KUBE-SERVICES: mean (S+1)/2), which REDIRECTs to the proxy's port
    the proxy       accept, one map lookup for the service port (+1 for a ClientIP
                    entry), the round-robin index: O(1) in n; then it dials the endpoint
                    (a second TCP handshake) and relays every byte (:func:`relay_cost`)

The model counts *rule evaluations* and *hash/map lookups*; it does not
count their cost in nanoseconds, cache misses, the conntrack lookup every
mode pays, the ``KUBE-NODEPORTS`` rules, or control-plane work. To put it
next to the published first-packet latencies (the Kubernetes nftables blog,
read off its chart) :func:`fit_rule_cost` fits one cost per iptables rule;
that is a fit to three points, not a prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from ..schedulers.kube_random import iptables_shares

#: First-packet RTT for iptables mode, ms, from the Kubernetes blog "NFTables mode for
#: kube-proxy" (2025-02-28), read off ``iptables-only.svg`` (±0.005 ms): services -> (p01, p50, p90, p99).
PUBLISHED_IPTABLES_MS = {
    5000: (0.015, 0.047, 0.12, 0.15),
    10000: (0.011, 0.062, 0.19, 0.26),
    30000: (0.040, 0.27, 0.49, 0.71),
}
#: nftables p50 at 5k-10k services (about the iptables p01, per the blog's text), ms.
PUBLISHED_NFTABLES_P50_MS = (0.010, 0.015)

#: The rules kube-proxy's IPVS mode keeps in iptables on the dispatch path (ipset matches).
IPVS_IPTABLES_RULES = 4


@dataclass(frozen=True)
class Cost:
    """Work for one first packet: rule evaluations, hash/map lookups, random draws."""

    mode: str
    services: int
    endpoints: int
    rules: float
    lookups: float
    draws: float
    syscalls: float = 0.0  # userspace: system calls of the proxy process for the new connection
    handshakes: int = 0  # userspace: extra TCP handshakes (the proxy dials the endpoint)

    @property
    def total(self) -> float:
        """Rules plus lookups: the model's one-number summary (the userspace relay is :func:`relay_cost`)."""
        return self.rules + self.lookups


def cascade_rules(n: int) -> float:
    """Mean rules evaluated in the statistic cascade of ``n`` endpoints (exact quantised shares)."""
    if n <= 0:
        return 0.0
    return sum(share * min(i + 1, n) for i, share in enumerate(iptables_shares(n)))


def cascade_draws(n: int) -> float:
    """Mean random draws in the cascade (the last rule has no statistic match)."""
    if n <= 1:
        return 0.0
    return sum(share * min(i + 1, n - 1) for i, share in enumerate(iptables_shares(n)))


def dispatch_cost(mode: str, services: int, endpoints: int, *, affinity: bool = False,
                  position: str = "mean", scheduler: str = "rr", masquerade: bool = True) -> Cost:
    """Return the model's first-packet work for one new connection.

    Parameters
    ----------
    mode : {"iptables", "nftables", "ipvs", "userspace"}
    services : int
        Service frontends on the node (one rule each in ``KUBE-SERVICES``).
    endpoints : int
        Endpoints of the service being reached.
    affinity : bool
        ClientIP affinity, for a client with no entry yet (the worst case: every check runs).
    position : {"mean", "best", "worst"}
        Where the service's rule sits in ``KUBE-SERVICES`` (iptables only).
    scheduler : str
        IPVS scheduler; the scanning ones cost one look per real server.
    masquerade : bool
        Whether the service chain starts with the masquerade rule (a cluster CIDR is set).
    """
    s, n = int(services), int(endpoints)
    if s < 1 or n < 1:
        raise ValueError(f"services and endpoints must be >= 1, got {services}, {endpoints}")
    m = 1 if masquerade else 0
    if mode == "iptables":
        k = {"mean": (s + 1) / 2, "best": 1.0, "worst": float(s)}[position]
        rules = k + m + (n if affinity else 0) + cascade_rules(n) + 2
        return Cost(mode, s, n, rules, 0.0, cascade_draws(n))
    if mode == "nftables":
        rules = 1 + m + (n if affinity else 0) + 1 + (3 if affinity else 2)
        lookups = 2 + (n if affinity else 0)
        return Cost(mode, s, n, rules, lookups, 1.0)
    if mode == "ipvs":
        lookups = 2 + 2 + (n if _scans(scheduler) else 1)  # ipset, conn, service, scheduler
        return Cost(mode, s, n, float(IPVS_IPTABLES_RULES), float(lookups), 0.0)
    if mode == "userspace":
        k = {"mean": (s + 1) / 2, "best": 1.0, "worst": float(s)}[position]
        relay = relay_cost("userspace")
        return Cost(mode, s, n, k, 1.0 + (1.0 if affinity else 0.0), 0.0,
                    syscalls=relay.syscalls_per_connection, handshakes=relay.handshakes)
    raise ValueError(f"mode must be iptables, nftables, ipvs or userspace, got {mode!r}")


#: Time assumed for the units :func:`relay_cost` counts, in ns. These are ASSUMPTIONS (orders of
#: magnitude for a current x86 server), not measurements: a system call including the mode switch,
#: copying one byte between Linux and a user-space process (~10 GB/s), one TCP handshake inside a cluster
#: network (0.1 ms round trip), and the TCP stack's work for one full segment on one socket.
ASSUMED_NS = {"syscall": 200.0, "copy_byte": 0.1, "handshake": 100_000.0, "segment": 1_000.0}
#: Linux's default pipe capacity (16 pages): the most one splice(2) moves through Go's pipe.
PIPE_BYTES = 65536
#: The userspace UDP proxy's buffer (``var buffer [4096]byte`` in proxysocket.go).
UDP_BUFFER = 4096
#: A full TCP segment's payload at a 1500-byte MTU.
MSS = 1448


@dataclass(frozen=True)
class RelayCost:
    """What carrying one connection costs the node beyond Linux's NAT, per connection and per byte.

    Counted from the code path (see :func:`relay_cost`); :meth:`ns` turns the
    counts into time with :data:`ASSUMED_NS`, which are assumptions.
    """

    mode: str
    protocol: str
    syscalls_per_connection: float  # system calls of the proxy process to set up and tear down
    handshakes: int  # extra TCP handshakes (the proxy's own connection to the endpoint)
    syscalls_per_byte: float  # per byte relayed, per direction
    copies_per_byte: int  # copies between Linux and the proxy process per byte relayed
    sockets_per_byte: int  # sockets whose TCP/UDP stack handles each byte on the node (NAT: 0)

    def ns(self, nbytes: int, assumptions: dict | None = None) -> float:
        """Extra nanoseconds for one connection carrying ``nbytes`` (one direction) under ``assumptions``."""
        a = ASSUMED_NS if assumptions is None else {**ASSUMED_NS, **assumptions}
        segments = -(-nbytes // MSS) if nbytes > 0 else 0
        return (self.syscalls_per_connection * a["syscall"] + self.handshakes * a["handshake"]
                + nbytes * (self.syscalls_per_byte * a["syscall"] + self.copies_per_byte * a["copy_byte"])
                + self.sockets_per_byte * segments * a["segment"])


def relay_cost(mode: str, protocol: str = "TCP") -> RelayCost:
    """Count the per-connection and per-byte work of ``mode`` beyond the NAT in Linux every mode does.

    The modes in Linux (iptables, nftables, IPVS) rewrite addresses in the
    packet path: nothing beyond their dispatch (:func:`dispatch_cost`).
    The userspace proxy (``proxysocket.go``, 1.25) terminates the client's
    connection and opens its own to the endpoint:

    - per TCP connection: accept, socket, connect and its completion check,
      TCP_NODELAY on both sockets, address lookups, poller registration and
      two closes: about a dozen system calls (our count of the Go code path),
      one more TCP handshake, two goroutines;
    - per TCP byte: ``io.Copy`` between two ``*net.TCPConn`` uses splice(2)
      on Linux (Go's ``TCPConn.readFrom``, since Go 1.11), so no user-space
      copy, but two splice calls per pipe-full (64 KiB) and direction, and
      the bytes cross two sockets' TCP stacks instead of being forwarded;
    - per UDP datagram: a read into the 4 KiB buffer and a write, two
      copies per byte.
    """
    if protocol not in ("TCP", "UDP"):
        raise ValueError(f"protocol must be TCP or UDP, got {protocol!r}")
    if mode in ("iptables", "nftables", "ipvs"):
        return RelayCost(mode, protocol, 0.0, 0, 0.0, 0, 0)
    if mode != "userspace":
        raise ValueError(f"mode must be iptables, nftables, ipvs or userspace, got {mode!r}")
    if protocol == "TCP":
        return RelayCost(mode, protocol, 12.0, 1, 2.0 / PIPE_BYTES, 0, 2)
    return RelayCost(mode, protocol, 6.0, 0, 2.0 / UDP_BUFFER, 2, 2)


def _scans(scheduler: str) -> bool:
    """Whether the IPVS scheduler walks every real server per connection (its ``scans_pool``)."""
    from ..schedulers.registry import get

    return get(scheduler).scans_pool


def curve(services: Iterable[int] = (10, 100, 1000, 5000, 10000, 30000), endpoints: int = 10,
          modes: Sequence[str] = ("iptables", "nftables", "ipvs", "userspace"), **options) -> list[Cost]:
    """:func:`dispatch_cost` for every (services, mode) pair."""
    return [dispatch_cost(mode, s, endpoints, **options) for s in services for mode in modes]


def fit_rule_cost(published: dict[int, tuple] = PUBLISHED_IPTABLES_MS, endpoints: int = 10,
                  base_ms: float | None = None) -> tuple[float, float]:
    """Fit ``p50_ms = base + c * mean iptables rules``; returns ``(base_ms, c_ns_per_rule)``.

    ``base_ms`` is the rest of the first-packet path, by default the
    published nftables p50 (which walks a constant handful of rules); ``c``
    is then the least-squares cost of one iptables rule through the origin.
    """
    a = sum(PUBLISHED_NFTABLES_P50_MS) / 2 if base_ms is None else float(base_ms)
    xs = [dispatch_cost("iptables", s, endpoints).rules for s in published]
    ys = [v[1] - a for v in published.values()]
    c = sum(x * y for x, y in zip(xs, ys)) / sum(x * x for x in xs)
    return a, c * 1e6


def table_markdown(costs: Sequence[Cost]) -> str:
    """Return a Markdown table of a :func:`curve` (one row per service count)."""
    modes = list(dict.fromkeys(c.mode for c in costs))
    by = {(c.services, c.mode): c for c in costs}
    head = ["services"] + [f"{m} rules / lookups" for m in modes]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    for s in dict.fromkeys(c.services for c in costs):
        lines.append("| " + " | ".join([f"{s:,}"] + [f"{by[s, m].rules:,.1f} / {by[s, m].lookups:g}"
                                                      for m in modes]) + " |")
    return "\n".join(lines) + "\n"


def plot(path: str, services: Sequence[int] = (10, 30, 100, 300, 1000, 3000, 10000, 30000),
         endpoints: int = 10) -> bool:
    """Plot the curve (log-log) to ``path``; returns False, doing nothing, without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(6, 4))
    for mode in ("iptables", "nftables", "ipvs", "userspace"):
        ax.plot(services, [dispatch_cost(mode, s, endpoints).total for s in services], marker="o", label=mode)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("services on the node")
    ax.set_ylabel("rules + lookups for a first packet (model)")
    ax.set_title(f"first-packet dispatch work, {endpoints} endpoints per service")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True
