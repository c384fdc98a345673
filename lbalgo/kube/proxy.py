"""kube-proxy's data planes for one service port on one node: three in Linux, one in userspace.

A :class:`NodeProxy` holds the endpoints one node's kube-proxy programs for
one kind of traffic (to the cluster IP, or to the external frontends) and
makes the data plane's choice for each new connection with lbalgo's compiled
schedulers (kube-proxy's ``pkg/proxy/iptables/proxier.go``, ``pkg/proxy/nftables/proxier.go``,
``pkg/proxy/ipvs/proxier.go`` and ``pkg/proxy/ipvs/graceful_termination.go``):

``iptables``
    :class:`~lbalgo.IptablesCascade` over the categorized endpoints in
    ``"ip:port"`` order (the pool keeps that order as endpoints come and
    go). With ``sessionAffinity: ClientIP`` the per-endpoint ``recent``
    checks come first (:class:`~lbalgo.schedulers.affinity.ClientIPAffinity`,
    mode "iptables").
``nftables``
    :class:`~lbalgo.NftNumgen` (``numgen random mod N``); affinity through
    per-endpoint sets (mode "nftables").
``ipvs``
    one IPVS virtual server with any lbalgo IPVS scheduler (``rr`` by
    default), every endpoint a real server of weight 1; affinity is IPVS
    persistence (mode "ipvs"). A removed endpoint with open connections is
    quiesced (weight 0) and deleted once they drain, checked every 60 s;
    one that comes back while draining is deleted and re-added. A
    Local-policy frontend with no local endpoint uses the cluster set
    instead of dropping.
``userspace``
    the proxy process itself (Kubernetes up to 1.25):
    :class:`~lbalgo.UserspaceRR`, a round robin over the ready endpoints in
    an order reshuffled whenever the set changes, with its own ClientIP
    map; a dial to an endpoint that does not answer (:meth:`NodeProxy.fail`)
    is retried on the next one after its timeout (250 ms, 500 ms, 1 s, 2 s).
    No traffic policy, topology or terminating endpoint applies.

The node proxies of iptables, nftables and userspace are built in one step
from the sorted endpoint list (O(n log n) with the sort; no per-endpoint
insertion). :meth:`NodeProxy.sync` applies a new version of the Service (new
EndpointSlices) the way one kube-proxy sync does and reports what changed.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _validate
from ..errors import InvalidArgument, NoBackendAvailable
from ..pool import Pool
from ..schedulers.kube_userspace import UserspaceRR
from ..schedulers.registry import get
from . import rules as _rules

if TYPE_CHECKING:  # a proxy is built from a Service; service.py imports this module on use
    from .service import Node, Service
    from .topology import Target

MODES = ("iptables", "nftables", "ipvs", "userspace")
#: ``rsCheckDeleteInterval``: how often IPVS mode retries deleting quiesced real servers.
IPVS_CHECK_INTERVAL = 60.0


@dataclass(frozen=True)
class SyncReport:
    """What one kube-proxy sync changed on one node for one service port."""

    time: float
    verdict: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    quiesced: tuple[str, ...] = ()  # IPVS: set to weight 0, deleted when drained
    rules_before: int = 0
    rules_after: int = 0
    rules_changed: int = 0  # lines added + removed (iptables, nft); ipvsadm add/edit/delete operations (IPVS)
    endpoints: tuple[str, ...] = field(default=(), repr=False)
    reshuffled: bool = False  # userspace: the endpoint list was reshuffled and its index reset


def _userspace_protocol(service: Service) -> str:
    if service.protocol == "SCTP":
        raise ValueError(f"{service.port_string} is SCTP: the userspace proxy supports TCP and UDP only "
                         "(newProxySocket)")
    return service.protocol


class NodeProxy:
    """One node's data plane for one service port and one kind of traffic.

    The one way to build a node proxy (``Service.proxy(node, mode)`` is a
    shorthand for ``NodeProxy(service, node, mode)``).

    Parameters
    ----------
    service : Service
    node : Node
    mode : {"iptables", "nftables", "ipvs", "userspace"}
    traffic : {"internal", "external"}
        Connections to the cluster IP, or to a NodePort / LB / external IP.
    source : {"external", "pod", "host"}
        Where external traffic comes from (pods and the host short-circuit
        to the cluster chain under ``externalTrafficPolicy: Local``).
    scheduler : str
        IPVS mode only: the IPVS scheduler (``--ipvs-scheduler``), default "rr".
    seed : int
        Seed of the random draws (iptables, nftables, random IPVS schedulers,
        the userspace shuffles).
    cluster_cidr : str, optional
        kube-proxy's cluster CIDR (local-traffic detector); only adds the
        masquerade rules to :meth:`rules`.
    affinity_capacity : int, optional
        Clients per endpoint list with ClientIP affinity: iptables
        ``xt_recent ip_list_tot`` (default 100), nftables set size.
    expire_quiescent_template : bool, optional
        IPVS sysctl (kube-proxy sets it: default True).
    """

    def __init__(self, service: Service, node: Node, mode: str = "iptables", *, traffic: str = "internal",
                 source: str = "external", scheduler: str = "rr", seed: int = 0,
                 cluster_cidr: str | None = None, affinity_capacity: int | None = None,
                 expire_quiescent_template: bool | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode != "ipvs" and scheduler != "rr":
            raise ValueError(f"scheduler= applies to IPVS mode only ({mode} mode has its own choice)")
        if mode == "userspace" and affinity_capacity is not None:
            raise ValueError("affinity_capacity applies to iptables lists and nftables sets: the userspace "
                             "proxy's client map has no limit")
        self.mode, self.node, self.traffic, self.source = mode, node, traffic, source
        self.cluster_cidr = cluster_cidr
        self._affinity_options = {k: v for k, v in (("capacity", affinity_capacity),
                                                    ("expire_quiescent_template", expire_quiescent_template))
                                  if v is not None}
        self.draining: dict[str, int] = {}  # IPVS: quiesced real servers waiting for their connections
        self._next_check = IPVS_CHECK_INTERVAL
        self._synced_at = -math.inf  # the time of the last sync: syncs are applied in time order
        self.service = service
        self.target = service.target(node, traffic, source, mode=mode)
        if mode == "ipvs":
            self.pool = Pool(insertion="head")  # ip_vs_add_dest links new real servers at the head
            self.scheduler = get(scheduler)(pool=self.pool, seed=seed)
            self.ids: dict[str, int] = {}  # endpoint string -> backend id, for every real server / rule
            self.keys: list[str] = []  # backend id -> endpoint string
            self._apply(self.target, 0.0)
        else:
            # The endpoints come sorted by "ip:port" (kube-proxy's order): one pool, built at once.
            keys = self.target.keys() if self.target.verdict == "forward" else []
            self.pool = Pool([1] * len(keys), addresses=keys, insertion="address")
            self.ids = {k: b for b, k in enumerate(keys)}
            self.keys = list(keys)
            if mode == "userspace":
                self.scheduler = UserspaceRR(pool=self.pool, seed=seed, affinity=service.affinity,
                                             timeout=service.timeout, protocol=_userspace_protocol(service))
            else:
                self.scheduler = get(mode)(pool=self.pool, seed=seed)
        self.chooser = self._make_chooser()
        self._keyless = self.chooser is self.scheduler and not self.scheduler.keyed

    # -- construction helpers ----------------------------------------------------------------
    def _make_chooser(self) -> Any:
        if not self.service.affinity or self.mode == "userspace":  # userspace: the scheduler's own map
            return self.scheduler
        from ..schedulers.affinity import ClientIPAffinity

        return ClientIPAffinity(self.scheduler, mode=self.mode, timeout=self.service.timeout,
                                **self._affinity_options)

    def _apply(self, target: Target, now: float) -> tuple[list[str], list[str], list[str]]:
        """Make the pool hold ``target``'s endpoints; return (added, removed, quiesced)."""
        wanted = [e.key for e in target.endpoints] if target.verdict == "forward" else []
        wanted_set = set(wanted)
        added, removed, quiesced = [], [], []
        for key in [k for k in self.ids if k not in wanted_set]:
            if self.mode == "ipvs":
                if key in self.draining:
                    continue
                if self._drained(self.ids[key]):
                    self._delete(key)
                else:
                    self.pool.set_weight(self.ids[key], 0)
                    self.draining[key] = self.ids[key]
                    quiesced.append(key)
                    continue
            else:
                self._delete(key)
            removed.append(key)
        for key in wanted:
            if key in self.draining:  # back while draining: delete and add anew (weight 1)
                self.draining.pop(key)
                self._delete(key)
            elif key in self.ids:
                continue
            b = self.pool.add(1, address=key)
            self.ids[key] = b
            self.keys.append(key)
            added.append(key)
        return added, removed, quiesced

    def _delete(self, key: str) -> None:
        self.pool.remove(self.ids.pop(key))

    def _drained(self, b: int) -> bool:
        if self.service.protocol in ("UDP", "SCTP"):
            return True
        return int(self.pool.active_conns[b]) + int(self.pool.inactive_conns[b]) == 0

    def _tick(self, now: float) -> list[str]:
        """IPVS: run the 60 s graceful-termination checks due by ``now``; return deleted endpoints."""
        if now < self._next_check:
            return []
        self._next_check = (math.floor(now / IPVS_CHECK_INTERVAL) + 1) * IPVS_CHECK_INTERVAL
        deleted = [k for k, b in self.draining.items() if self._drained(b)]
        for key in deleted:
            self.draining.pop(key)
            self._delete(key)
        return deleted

    # -- the data path ------------------------------------------------------------------------
    @property
    def verdict(self) -> str:
        """"forward", "drop" or "reject" for new connections."""
        return self.target.verdict

    @property
    def endpoints(self) -> list[str]:
        """The endpoints new connections can go to, in rule / list order."""
        order = self.pool.list_order
        w = self.pool.weights
        return [self.keys[b] for b in order if w[b] > 0]

    def endpoint(self, backend: int) -> str:
        """Return the endpoint string of a backend id returned by :meth:`pick_many`."""
        return self.keys[int(backend)]

    def pick(self, client: Any = None, now: float = 0.0) -> str:
        """Return the endpoint (``"ip:port"``) this node sends one new connection from ``client`` to.

        Raises :class:`~lbalgo.NoBackendAvailable` when the traffic is dropped
        or rejected (the message says which and why).
        """
        if self.draining:
            self._tick(float(now))
        if self.target.verdict != "forward":
            raise NoBackendAvailable(f"{self.target.verdict.upper()}: {self.target.reason}")
        if self._keyless:
            client = None  # the cascade and numgen ignore the client: skip parsing it
        return self.keys[self.chooser.pick(key=client, now=now)]

    def pick_many(self, clients: Any, now: Any = None) -> np.ndarray:
        """Backend ids for many new connections (-1 when dropped); see :meth:`endpoint`.

        The graceful-termination checks of IPVS mode run only between calls.
        """
        if self.draining and now is not None:
            self._tick(float(np.max(now)) if np.ndim(now) else float(now))
        if self._keyless and not isinstance(clients, (int, np.integer)):
            clients = len(clients)
        return self.chooser.pick_many(clients, now)

    def release(self, endpoint: str | int, *, client: Any = None, now: Any = None,
                active: bool | None = None) -> None:
        """One connection to ``endpoint`` (a string or a backend id) ended.

        With IPVS persistence give ``client`` and ``now``: the client's
        template counts its live connections (``ClientIPAffinity.release``).
        """
        b = self.ids.get(endpoint) if isinstance(endpoint, str) else int(endpoint)
        if b is None:
            raise KeyError(f"no real server {endpoint!r} on this node")
        if self.chooser is not self.scheduler:
            self.chooser.release(b, key=client, now=now, active=active)
        else:
            self.pool.release(b, active=active)

    # -- endpoints that stop answering (userspace) ---------------------------------------------------
    def fail(self, endpoint: str) -> None:
        """``endpoint``'s pod stops answering while the Endpoints object still lists it (userspace only).

        The userspace proxy learns of it only by dialing: a TCP dial times
        out and the next endpoint is tried (see :class:`~lbalgo.UserspaceRR`).
        The data planes in Linux have no such step (a DNATed connection to a dead
        pod simply fails), so this is refused in the other modes: remove the
        endpoint with :meth:`sync` instead.
        """
        self.pool.fail(self._userspace_id(endpoint, "fail"))

    def recover(self, endpoint: str) -> None:
        """``endpoint`` answers again (undoes :meth:`fail`; userspace only)."""
        self.pool.recover(self._userspace_id(endpoint, "recover"))

    def _userspace_id(self, endpoint: str, what: str) -> int:
        if self.mode != "userspace":
            raise ValueError(f"{what}() models a dial failure, which only the userspace proxy sees; in "
                             f"{self.mode} mode remove the endpoint with sync()")
        b = self.ids.get(endpoint)
        if b is None:
            raise KeyError(f"no endpoint {endpoint!r} on this node (known: {len(self.ids)})")
        return b

    @property
    def dial_delay(self) -> float:
        """Seconds the latest :meth:`pick` waited before its dial succeeded (userspace; else 0)."""
        return float(self.scheduler.dial_delays(1)[0]) if self.mode == "userspace" else 0.0

    def shares(self) -> dict[str, float]:
        """Exact probability of each endpoint for a new connection without affinity.

        iptables: the quantised cascade; nftables: ``reciprocal_scale``;
        IPVS: the long-run weight share (exact for rr/wrr over a stable set).
        """
        if self.mode in ("iptables", "nftables"):
            by_id = self.scheduler.shares()
            return {self.keys[b]: float(by_id[b]) for b in self.pool.list_order if by_id[b] > 0}
        if self.mode == "userspace":  # round robin: each endpoint once per turn of the shuffled list
            order = self.scheduler.endpoint_order
            return {self.keys[b]: 1.0 / len(order) for b in sorted(order, key=lambda b: self.keys[b])}
        eps = self.endpoints
        return {k: 1.0 / len(eps) for k in eps}

    # -- the control plane ---------------------------------------------------------------------
    def sync(self, service: Service, now: float = 0.0) -> SyncReport:
        """Apply a new version of the service port (kube-proxy's ``syncProxyRules``).

        Raises
        ------
        InvalidArgument
            When ``now`` is not finite or earlier than the previous sync's
            (the node is left as it was).
        """
        now = _validate.time(now)
        if now < self._synced_at:
            raise InvalidArgument(f"now = {now} goes back in time: this node proxy already synced at "
                                  f"{self._synced_at} (syncs are applied in time order)")
        before = self.rules()
        deleted = self._tick(now) if self.draining else []
        old_affinity = self.service.affinity
        self.service = service
        self.target = service.target(self.node, self.traffic, self.source, mode=self.mode)
        reshuffled = False
        if self.mode == "userspace":
            shuffles = self.scheduler.shuffles
            with self.scheduler.batch():  # one Endpoints update: one comparison, at most one shuffle
                added, removed, quiesced = self._apply(self.target, float(now))
            reshuffled = self.scheduler.shuffles != shuffles
            if service.affinity != old_affinity:
                self.scheduler.set_affinity(service.affinity)  # the map and its old timeout stay
                self._keyless = not self.scheduler.keyed
        else:
            added, removed, quiesced = self._apply(self.target, float(now))
        after = self.rules()
        if self.mode == "ipvs":
            # One ipvsadm operation per real server added, deleted or edited (weight change).
            old = {r.rsplit(" -w ", 1)[0]: r for r in before}
            new = {r.rsplit(" -w ", 1)[0]: r for r in after}
            changed = len(old.keys() ^ new.keys()) + sum(old[k] != new[k] for k in old.keys() & new.keys())
        else:
            diff = Counter(before)
            diff.subtract(Counter(after))
            changed = sum(abs(v) for v in diff.values())
        self._synced_at = now
        return SyncReport(time=now, verdict=self.target.verdict, added=tuple(added),
                          removed=tuple(removed + deleted), quiesced=tuple(quiesced),
                          rules_before=len(before), rules_after=len(after), rules_changed=changed,
                          endpoints=tuple(self.endpoints), reshuffled=reshuffled)

    def rules(self, saved: bool = False) -> list[str]:
        """Return the rules kube-proxy writes for this service port on this node.

        iptables: ``iptables-restore`` lines (``*nat`` then ``*filter``); with
        ``saved=True`` the probabilities read as ``iptables-save`` prints them
        (``0.33333333349`` for the written ``0.3333333333``);
        nftables: ``nft`` commands in table ``kube-proxy``; IPVS: ``ipvsadm
        -S`` lines of this proxy's virtual server(s) with their real servers
        and current weights; userspace: the portal rules that redirect the
        service's frontends to the proxy's port (endpoints never appear in
        them: the proxy process chooses).
        """
        svc = self.service
        if self.mode == "ipvs":
            return self._ipvs_rules()
        if self.mode == "userspace":
            return _rules.userspace_rules(svc)
        cat = svc.endpoints_for(self.node)
        internal = svc.target(self.node, "internal", mode=self.mode).verdict
        external = svc.target(self.node, "external", mode=self.mode).verdict if svc.externally_accessible \
            else None
        if self.mode == "iptables":
            return _rules.iptables_rules(svc, cat, internal, external, self.cluster_cidr, saved)
        return _rules.nftables_rules(svc, cat, internal, external, self.cluster_cidr)

    def _ipvs_rules(self) -> list[str]:
        svc = self.service
        flag = {"TCP": "-t", "UDP": "-u", "SCTP": "--sctp-service"}[svc.protocol]
        port = svc.port_number or 0
        if self.traffic == "internal":
            frontends = [f"{svc.cluster_ip or '<cluster-ip>'}:{port}"]
        else:
            frontends = [f"{ip}:{port}" for ip in svc.external_ips + svc.load_balancer_ips]
            if svc.node_port:
                frontends.append(f"<node-ip>:{svc.node_port}")
        sched = self.scheduler.name
        persist = f" -p {svc.timeout}" if svc.affinity else ""
        out = []
        for vs in frontends:
            out.append(f"-A {flag} {vs} -s {sched}{persist}")
            for b in self.pool.list_order:
                out.append(f"-a {flag} {vs} -r {self.keys[b]} -m -w {int(self.pool.weights[b])}")
        return out

    def __repr__(self) -> str:
        return (f"NodeProxy({self.service.port_string}, node={self.node.name}, mode={self.mode}, "
                f"traffic={self.traffic}, verdict={self.verdict}, endpoints={len(self.endpoints)})")


#: The former factory's name: building a node proxy is ``NodeProxy(service, node, mode, ...)``.
make_proxy = NodeProxy
