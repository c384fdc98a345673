"""Endpoint churn: pods come and go, every node's kube-proxy re-syncs, clients move.

A simple, explicit model (``spec/kube-proxy.md`` §1.5, §2.3, §3, §5):

1. :class:`SliceSet` plays the EndpointSlice controller for one Service:
   a new endpoint goes into the first slice with room (``max_per_slice``,
   default 100), a changed or removed endpoint rewrites only its own slice,
   an empty slice is deleted. Not-ready and terminating endpoints lose their
   zone hints (the controller hints ready endpoints only). It counts the API
   objects each change writes, next to what the legacy ``Endpoints`` object
   (one object holding every address) would have written.
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
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .. import addresses
from ..errors import NoBackendAvailable
from .proxy import MODES, SyncReport
from .service import Node, Service
from .slices import EndpointSlice, SliceEndpoint

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
    """API objects written for one change: EndpointSlices versus the legacy Endpoints object."""

    slices_written: int  # EndpointSlice objects created, updated or deleted
    slice_endpoints: int  # endpoints carried by the written slices
    endpoints_object_endpoints: int  # addresses carried by the one Endpoints object


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

    def slices(self) -> list[EndpointSlice]:
        """The current slices (the service's first, then the others unchanged)."""
        out = []
        for name, eps in self.members.items():
            m = self.meta.get(name, self.template)
            out.append(EndpointSlice(name=name, namespace=m.namespace, service_name=m.service_name,
                                     address_type=m.address_type, ports=m.ports or self.template.ports,
                                     endpoints=tuple(eps), where=m.where))
        return out + self.others

    def _find(self, ip: str) -> tuple[str, int]:
        for name, eps in self.members.items():
            for i, e in enumerate(eps):
                if e.address == ip:
                    return name, i
        raise KeyError(f"no endpoint {ip} in the slices of {self.service}")

    def apply(self, change: PodChange) -> ObjectChurn:
        """Apply one change; return the API objects it wrote."""
        parsed = addresses.parse(change.ip)
        ip = str(parsed)
        if change.action == "add":
            hints = frozenset([change.zone]) if self.hinted and change.zone else frozenset()
            e = SliceEndpoint(address=ip, family=parsed.version, node_name=change.node, zone=change.zone,
                              zone_hints=hints)
            name = next((n for n, eps in self.members.items() if len(eps) < self.max_per_slice), None)
            if name is None:
                self._serial += 1
                base = self.template.service_name or "svc"
                name = f"{base}-churn{self._serial}"
                self.members[name] = []
            self.members[name].append(e)
        else:
            name, i = self._find(ip)
            old = self.members[name][i]
            if change.action == "remove":
                del self.members[name][i]
                if not self.members[name]:
                    del self.members[name]
                    return ObjectChurn(1, 0, self.total())
            else:
                ready = change.action == "ready"
                serving = change.action in ("ready", "terminating")
                hints = frozenset([old.zone]) if ready and self.hinted and old.zone else frozenset()
                self.members[name][i] = SliceEndpoint(
                    address=old.address, family=old.family, ready=ready, serving=serving,
                    terminating=change.action == "terminating", node_name=old.node_name, zone=old.zone,
                    zone_hints=hints, node_hints=old.node_hints if ready else frozenset())
        return ObjectChurn(1, len(self.members[name]), self.total())

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

    def to_text(self) -> str:
        """A plain-text summary: one block per mode, one line per sync."""
        out = []
        for ch, ob in zip(self.changes, self.objects):
            out.append(f"t={ch.time:g}s {ch.action} {ch.ip}: EndpointSlice objects written "
                       f"{ob.slices_written} ({ob.slice_endpoints} endpoints), Endpoints object "
                       f"{ob.endpoints_object_endpoints} endpoints")
        for r in self.modes.values():
            lost = len({c for _, c, _, _ in r.lost_affinity})
            out.append(f"\n[{r.mode}] rules/operations changed: {r.rules_changed}; clients that lost "
                       f"affinity: {lost}; dropped: {r.dropped}")
            for i, s in enumerate(r.syncs, start=1):
                out.append(f"  sync t={s.time:g}s: +{list(s.added)} -{list(s.removed)} "
                           f"quiesced {list(s.quiesced)}; {s.rules_changed} changed ({s.rules_before} -> {s.rules_after}); "
                           f"share shift {r.shift(i):.3f}")
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
    modes : modes to compare (default all three)
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
