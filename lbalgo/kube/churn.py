"""Endpoint churn: pods come and go, every node's kube-proxy re-syncs, clients move.

A simple, explicit model, after kube-proxy's ``pkg/proxy/iptables/proxier.go`` (with
Linux's ``net/netfilter/xt_recent.c``), ``pkg/proxy/nftables/proxier.go``,
``pkg/proxy/ipvs/proxier.go`` and ``pkg/proxy/ipvs/graceful_termination.go``, and the
EndpointSlice API (``staging/src/k8s.io/api/discovery/v1/types.go``; hints as
``staging/src/k8s.io/endpointslice/trafficdist/trafficdist.go`` writes them):

1. :class:`SliceSet` plays the EndpointSlice controller for one Service:
   a new endpoint goes into the first slice with room (``max_per_slice``,
   default 100), a changed or removed endpoint rewrites only its own slice,
   an empty slice is deleted. Not-ready and terminating endpoints lose their
   zone hints (the controller hints ready endpoints only). It counts the API
   objects each change writes, next to what the legacy ``Endpoints`` object
   (one object holding every address) would have written, and the bytes of
   the watch events that carry them to each watching node, measured on the
   JSON of the objects :mod:`lbalgo.kube.objects` builds.
2. :func:`run_churn` replays client connections (time, client address)
   through one node's :class:`~lbalgo.kube.proxy.NodeProxy` per mode, and
   applies each :class:`PodChange` ``sync_delay`` seconds after it happens
   (kube-proxy's ``minSyncPeriod`` is 1 s). Each connection lasts
   ``duration`` seconds (it matters for IPVS graceful termination and
   persistence only).

The report says, per mode: how many rule lines (iptables, nftables) or
``ipvsadm`` operations each sync changed; the share of connections per
endpoint between consecutive syncs; and which clients *lost affinity*: a
client whose new connection went to a different endpoint than its previous
one although the previous one started less than ``timeout`` seconds before
(without ``sessionAffinity: ClientIP`` this counts plain re-balancing).
Conntrack is not modelled: established connections never move.

:func:`api_traffic` puts numbers on why EndpointSlices exist: the bytes the
API server sends to every node's kube-proxy for a Service of P pods on N
nodes, per change and over a rolling update of every pod, with the legacy
Endpoints object resent whole on each change versus one slice of at most
100 endpoints.
"""

from __future__ import annotations

import hashlib
import heapq
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .. import addresses
from ..errors import NoBackendAvailable
from .objects import Sizer
from .proxy import MODES, SyncReport
from .service import Node, Service
from .slices import EndpointSlice, SliceEndpoint, SlicePort

ACTIONS = ("add", "ready", "not_ready", "terminating", "remove")


@dataclass(frozen=True)
class PodChange:
    """One endpoint event at ``time`` seconds.

    ``action``: "add" (a ready pod), "ready", "not_ready" (failing readiness
    probe), "terminating" (deleted, still serving during its grace period)
    or "remove" (gone). ``node`` and ``zone`` are needed for "add".
    """

    time: float
    action: str
    ip: str
    node: str | None = None
    zone: str | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"PodChange.action must be one of {ACTIONS}, got {self.action!r}")
        addresses.parse(self.ip, "PodChange.ip")


@dataclass(frozen=True)
class ObjectChurn:
    """API objects written for one change: EndpointSlices versus the legacy Endpoints object.

    The byte counts are what one watching node receives: the watch event of
    each written slice, versus the event carrying the whole Endpoints object.
    """

    slices_written: int  # EndpointSlice objects created, updated or deleted
    slice_endpoints: int  # endpoints carried by the written slices
    endpoints_object_endpoints: int  # addresses carried by the one Endpoints object
    slice_bytes: int = 0  # bytes of the written slices' watch events, per watching node
    endpoints_bytes: int = 0  # bytes of the Endpoints object's watch event, per watching node


class SliceSet:
    """The EndpointSlices of one Service, maintained like the EndpointSlice controller (simplified)."""

    def __init__(self, slices: Sequence[EndpointSlice], service: str, max_per_slice: int = 100) -> None:
        if not 1 <= max_per_slice <= 1000:
            raise ValueError(f"max_per_slice must be in 1..1000, got {max_per_slice}")
        mine = [s for s in slices if s.service == service]
        if not mine:
            raise ValueError(f"no EndpointSlice belongs to {service}")
        self.service = service
        self.max_per_slice = max_per_slice
        self.template = mine[0]
        self.others = [s for s in slices if s.service != service]
        self.members: dict[str, list[SliceEndpoint]] = {s.name: list(s.endpoints) for s in mine}
        self.meta = {s.name: s for s in mine}
        self.hinted = any(e.zone_hints for s in mine for e in s.endpoints)
        self._serial = 0
        self._where = {e.address: name for name, eps in self.members.items() for e in eps}
        ports = next((s.ports for s in mine if s.ports), ())
        self.sizer = Sizer(self.template.namespace, self.template.service_name or self.template.name, ports)
        # Running sums of the Endpoints object's addresses: [count, bytes] of ready / not-ready ones.
        self._legacy = {True: [0, 0], False: [0, 0]}
        for eps in self.members.values():
            for e in eps:
                self._account(e, +1)

    def slices(self) -> list[EndpointSlice]:
        """Return the current slices (the service's first, then the others unchanged)."""
        return [self._slice(name) for name in self.members] + self.others

    def _slice(self, name: str, endpoints: Sequence[SliceEndpoint] | None = None) -> EndpointSlice:
        m = self.meta.get(name, self.template)
        eps = self.members[name] if endpoints is None else endpoints
        return EndpointSlice(name=name, namespace=m.namespace, service_name=m.service_name,
                             address_type=m.address_type, ports=m.ports or self.template.ports,
                             endpoints=tuple(eps), where=m.where)

    def _account(self, e: SliceEndpoint, sign: int) -> None:
        """Add (+1) or take out (-1) ``e``'s address in the Endpoints object's running sums."""
        if e.address is None or e.terminating:  # the Endpoints controller leaves terminating pods out
            return
        group = self._legacy[e.ready]
        group[0] += sign
        group[1] += sign * self.sizer.address_size(e)

    def endpoints_bytes(self) -> int:
        """Bytes of the watch event carrying the Endpoints object as it stands."""
        (rn, rb), (nn, nb) = self._legacy[True], self._legacy[False]
        return self.sizer.endpoints_size_from(rn, rb, nn, nb)

    def _find(self, ip: str) -> tuple[str, int]:
        name = self._where.get(ip)
        if name is not None:
            for i, e in enumerate(self.members[name]):
                if e.address == ip:
                    return name, i
        raise KeyError(f"no endpoint {ip} in the slices of {self.service}")

    def apply(self, change: PodChange) -> ObjectChurn:
        """Apply one change; return the API objects it wrote (and their bytes per watching node)."""
        parsed = addresses.parse(change.ip)
        ip = str(parsed)
        if change.action == "add":
            hints = frozenset([change.zone]) if self.hinted and change.zone else frozenset()
            e = SliceEndpoint(address=ip, family=parsed.version, node_name=change.node, zone=change.zone,
                              zone_hints=hints)
            if ip in self._where:
                raise ValueError(f"endpoint {ip} is already in the slices of {self.service}")
            name = next((n for n, eps in self.members.items() if len(eps) < self.max_per_slice), None)
            kind = "MODIFIED"
            if name is None:
                self._serial += 1
                base = self.template.service_name or "svc"
                name = f"{base}-churn{self._serial}"
                self.members[name] = []
                kind = "ADDED"
            self.members[name].append(e)
            self._where[ip] = name
            self._account(e, +1)
        else:
            name, i = self._find(ip)
            old = self.members[name][i]
            self._account(old, -1)
            kind = "MODIFIED"
            if change.action == "remove":
                before = self._slice(name)
                del self.members[name][i]
                del self._where[ip]
                if not self.members[name]:
                    del self.members[name]  # the emptied slice is deleted: the event carries its last state
                    return ObjectChurn(1, 0, self.total(), self.sizer.slice_size(before, "DELETED"),
                                       self.endpoints_bytes())
            else:
                ready = change.action == "ready"
                serving = change.action in ("ready", "terminating")
                hints = frozenset([old.zone]) if ready and self.hinted and old.zone else frozenset()
                new = SliceEndpoint(
                    address=old.address, family=old.family, ready=ready, serving=serving,
                    terminating=change.action == "terminating", node_name=old.node_name, zone=old.zone,
                    zone_hints=hints, node_hints=old.node_hints if ready else frozenset())
                self.members[name][i] = new
                self._account(new, +1)
        return ObjectChurn(1, len(self.members[name]), self.total(),
                           self.sizer.slice_size(self._slice(name), kind), self.endpoints_bytes())

    def total(self) -> int:
        """Endpoints in all of the service's slices (what one Endpoints object would hold)."""
        return sum(len(v) for v in self.members.values())


@dataclass
class ModeResult:
    """What one mode did over the replay."""

    mode: str
    syncs: list[SyncReport] = field(default_factory=list)
    phase_counts: list[dict[str, int]] = field(default_factory=list)  # connections per endpoint, per phase
    lost_affinity: list[tuple[float, str, str, str]] = field(default_factory=list)  # (t, client, old, new)
    dropped: int = 0

    @property
    def rules_changed(self) -> int:
        """Rule lines / ipvsadm operations changed over all syncs."""
        return sum(s.rules_changed for s in self.syncs)

    def shares(self, phase: int) -> dict[str, float]:
        """Share of connections per endpoint in one phase (between syncs)."""
        c = self.phase_counts[phase]
        total = sum(c.values())
        return {k: v / total for k, v in sorted(c.items())} if total else {}

    def shift(self, phase: int) -> float:
        """Total-variation distance between the shares of phase ``phase-1`` and ``phase``."""
        a, b = self.shares(phase - 1), self.shares(phase)
        keys = set(a) | set(b)
        return 0.5 * sum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in keys)


@dataclass
class ChurnReport:
    """Per-mode results of :func:`run_churn` plus the API object churn of each change."""

    changes: list[PodChange]
    objects: list[ObjectChurn]
    modes: dict[str, ModeResult]
    timeout: float

    def api_bytes(self, nodes: int) -> tuple[int, int]:
        """Bytes the API server sends for all the changes to ``nodes`` watching kube-proxies.

        Returns ``(EndpointSlices, legacy Endpoints)``.
        """
        nodes = _positive(nodes, "nodes")
        return (nodes * sum(o.slice_bytes for o in self.objects),
                nodes * sum(o.endpoints_bytes for o in self.objects))

    def to_text(self) -> str:
        """Return a plain-text summary: one block per mode, one line per sync."""
        out = []
        for ch, ob in zip(self.changes, self.objects):
            out.append(f"t={ch.time:g}s {ch.action} {ch.ip}: EndpointSlice objects written "
                       f"{ob.slices_written} ({ob.slice_endpoints} endpoints, "
                       f"{ob.slice_bytes:,} bytes per node), "
                       f"Endpoints object {ob.endpoints_object_endpoints} endpoints "
                       f"({ob.endpoints_bytes:,} bytes per node)")
        for r in self.modes.values():
            lost = len({c for _, c, _, _ in r.lost_affinity})
            out.append(f"\n[{r.mode}] rules/operations changed: {r.rules_changed}; clients that lost "
                       f"affinity: {lost}; dropped: {r.dropped}")
            for i, s in enumerate(r.syncs, start=1):
                extra = "; reshuffled" if s.reshuffled else ""
                out.append(f"  sync t={s.time:g}s: +{list(s.added)} -{list(s.removed)} "
                           f"quiesced {list(s.quiesced)}; {s.rules_changed} changed "
                           f"({s.rules_before} -> {s.rules_after}); share shift {r.shift(i):.3f}{extra}")
        return "\n".join(out) + "\n"


def run_churn(service: Service, node: Node, changes: Sequence[PodChange], clients: Any, times: Any, *,
              modes: Sequence[str] = MODES, seed: int = 0, duration: float = 0.0, sync_delay: float = 1.0,
              max_per_slice: int = 100, **proxy_options: Any) -> ChurnReport:
    """Replay connections ``(times[i], clients[i])`` on ``node`` while ``changes`` happen.

    Parameters
    ----------
    service : Service
        Built with :meth:`Service.from_endpointslices` (its slices are the starting point).
    changes : sequence of PodChange
    clients : sequence of addresses; times : sequence of float (sorted)
    modes : modes to compare (default all four: iptables, nftables, ipvs, userspace)
    duration : float
        Seconds each connection stays open (IPVS draining and persistence).
    sync_delay : float
        Seconds between a change and the sync that programs it.
    **proxy_options
        Passed to :meth:`Service.proxy` (``scheduler=``, ``traffic=``, ...).
    """
    clients = [str(addresses.parse(int(c) if isinstance(c, np.integer) else c)) for c in clients]
    times = np.asarray(times, dtype=np.float64)
    if len(times) != len(clients):
        raise ValueError(f"{len(clients)} clients but {len(times)} times")
    if len(times) and np.any(np.diff(times) < 0):
        raise ValueError("times must be sorted")
    changes = sorted(changes, key=lambda c: c.time)
    slice_set = SliceSet(service.slices, service.service, max_per_slice)
    versions, objects = [], []
    for ch in changes:
        objects.append(slice_set.apply(ch))
        versions.append((ch.time + sync_delay, service.with_slices(slice_set.slices())))
    results = {}
    for mode in modes:
        proxy = service.proxy(node, mode=mode, seed=seed, **proxy_options)
        r = ModeResult(mode, phase_counts=[{}])
        last: dict[str, tuple[float, str]] = {}
        open_conns: list[tuple[float, int, str]] = []
        v = 0
        for t, client in zip(times.tolist(), clients):
            while open_conns and open_conns[0][0] <= t:
                end, b, who = heapq.heappop(open_conns)
                proxy.release(b, client=who, now=end)
            while v < len(versions) and versions[v][0] <= t:
                r.syncs.append(proxy.sync(versions[v][1], now=versions[v][0]))
                r.phase_counts.append({})
                v += 1
            try:
                ep = proxy.pick(client, now=t)
            except NoBackendAvailable:
                r.dropped += 1
                continue
            counts = r.phase_counts[-1]
            counts[ep] = counts.get(ep, 0) + 1
            prev = last.get(client)
            if prev is not None and t - prev[0] <= service.timeout and prev[1] != ep:
                r.lost_affinity.append((t, client, prev[1], ep))
            last[client] = (t, ep)
            heapq.heappush(open_conns, (t + duration, proxy.ids[ep], client))
        while v < len(versions):
            r.syncs.append(proxy.sync(versions[v][1], now=versions[v][0]))
            r.phase_counts.append({})
            v += 1
        results[mode] = r
    return ChurnReport(list(changes), objects, results, float(service.timeout))


def _positive(value: Any, what: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class ApiTraffic:
    """Bytes the API server sends to the kube-proxies watching one Service (see :func:`api_traffic`).

    Object sizes are watch events of the JSON objects :mod:`lbalgo.kube.objects`
    builds; totals are per-node bytes times ``nodes``.
    """

    pods: int
    nodes: int
    max_per_slice: int
    endpoints_object: int  # bytes of the Endpoints object with every pod ready (one event)
    slice_object: int  # bytes of one full EndpointSlice (one event)
    per_change_endpoints: int  # one pod turns not ready: bytes to every node, legacy Endpoints
    per_change_slices: int  # the same change with EndpointSlices
    rolling_changes: int  # changes in the replayed rolling update (a new pod added, its old pod removed)
    rolling_endpoints: int  # bytes to every node over the rolling update, legacy Endpoints
    rolling_slices: int  # the same with EndpointSlices
    blog_method_endpoints: int  # the blog's count: one whole-object resend per replaced pod

    def to_text(self) -> str:
        """Return the numbers as text, with units."""
        return "\n".join([
            f"Service of {self.pods:,} pods watched by {self.nodes:,} nodes (EndpointSlices of at most "
            f"{self.max_per_slice}):",
            f"  Endpoints object: {_human(self.endpoints_object)}; one full EndpointSlice: "
            f"{_human(self.slice_object)}",
            f"  one change: {_human(self.per_change_endpoints)} (Endpoints) vs "
            f"{_human(self.per_change_slices)} (EndpointSlices)",
            f"  rolling update ({self.rolling_changes:,} changes): {_human(self.rolling_endpoints)} vs "
            f"{_human(self.rolling_slices)}",
            f"  the blog's count (one resend of the whole object per replaced pod): "
            f"{_human(self.blog_method_endpoints)}",
        ]) + "\n"


def _human(n: int) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.2f} {unit}"
    return f"{n} B"


def synthetic_service(pods: int, nodes: int, *, namespace: str = "default", service: str = "web",
                      max_per_slice: int = 100, zones: Sequence[str] = ("us-central1-a", "us-central1-b",
                                                                         "us-central1-c"),
                      port: SlicePort = SlicePort("http", 8080, "TCP")) -> list[EndpointSlice]:
    """EndpointSlices of a Service of ``pods`` ready pods spread over ``nodes`` nodes.

    Pod ``k`` has address ``10.(k // 65536).(k // 256 % 256).(k % 256)`` (in
    10.0.0.0/8 from 10.0.0.0), runs on node ``k mod nodes``, whose zone is
    ``zones[node mod len(zones)]``; node names look like GKE's
    (``gke-prod-default-pool-<8 hex>-<4 characters>``). Slices hold
    ``max_per_slice`` pods each, in pod order.
    """
    pods, nodes = _positive(pods, "pods"), _positive(nodes, "nodes")
    if pods > 1 << 24:
        raise ValueError(f"pods must be at most {1 << 24} (one 10.0.0.0/8), got {pods}")
    names = [_node_name(i) for i in range(min(nodes, pods))]
    eps = [SliceEndpoint(address=f"10.{k >> 16}.{k >> 8 & 255}.{k & 255}", family=4,
                         node_name=names[k % nodes], zone=zones[k % nodes % len(zones)]) for k in range(pods)]
    return [EndpointSlice(f"{service}-{_suffix(service, i)}", namespace, service, "IPv4", (port,),
                          tuple(eps[i:i + max_per_slice])) for i in range(0, pods, max_per_slice)]


def _node_name(i: int) -> str:
    h = hashlib.sha256(f"node{i}".encode()).hexdigest()
    return f"gke-prod-default-pool-{h[:8]}-{h[8:12]}"


def _suffix(service: str, i: int) -> str:
    d = hashlib.sha256(f"{service}/{i}".encode()).digest()
    return "".join("bcdfghjklmnpqrstvwxz2456789"[b % 27] for b in d[:5])


def api_traffic(pods: int = 5000, nodes: int = 3000, *, max_per_slice: int = 100,
                **service: Any) -> ApiTraffic:
    """Compute what the API server sends kube-proxies for one Service, legacy Endpoints versus EndpointSlices.

    Builds :func:`synthetic_service` (``service`` passes its options), then
    measures, per watching node and times ``nodes``:

    - one change: a pod turns not ready; legacy: the whole Endpoints object
      is resent; slices: the one slice holding the pod;
    - a rolling update of every pod, replayed through :class:`SliceSet` as
      ``pods`` pairs of changes (a new pod added on the old pod's node, the
      old pod removed), each measured as it happens;
    - the blog's arithmetic for the same update: ``pods`` resends of the
      whole object (one per replaced pod).
    """
    pods, nodes = _positive(pods, "pods"), _positive(nodes, "nodes")
    slices = synthetic_service(pods, nodes, max_per_slice=max_per_slice, **service)
    ss = SliceSet(slices, slices[0].service, max_per_slice)
    full_endpoints = ss.endpoints_bytes()
    full_slice = ss.sizer.slice_size(slices[0])
    first = slices[0].endpoints[0]
    flap = ss.apply(PodChange(0.0, "not_ready", first.address))
    ss.apply(PodChange(0.0, "ready", first.address))
    old = [e for s in slices for e in s.endpoints]
    legacy = sliced = 0
    for k, e in enumerate(old):
        new_ip = f"10.{128 + (k >> 16)}.{k >> 8 & 255}.{k & 255}"
        for change in (PodChange(float(k), "add", new_ip, node=e.node_name, zone=e.zone),
                       PodChange(float(k), "remove", e.address)):
            ob = ss.apply(change)
            legacy += ob.endpoints_bytes
            sliced += ob.slice_bytes
    return ApiTraffic(pods=pods, nodes=nodes, max_per_slice=max_per_slice, endpoints_object=full_endpoints,
                      slice_object=full_slice, per_change_endpoints=flap.endpoints_bytes * nodes,
                      per_change_slices=flap.slice_bytes * nodes, rolling_changes=2 * pods,
                      rolling_endpoints=legacy * nodes, rolling_slices=sliced * nodes,
                      blog_method_endpoints=pods * full_endpoints * nodes)
