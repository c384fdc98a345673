"""Endpoint churn: pods come and go, every node's kube-proxy re-syncs, clients move.

A simple, explicit model, after kube-proxy's ``pkg/proxy/iptables/proxier.go`` (with
Linux's ``net/netfilter/xt_recent.c``), ``pkg/proxy/nftables/proxier.go``,
``pkg/proxy/ipvs/proxier.go`` and ``pkg/proxy/ipvs/graceful_termination.go``, and the
EndpointSlice API (``staging/src/k8s.io/api/discovery/v1/types.go``; hints as
``staging/src/k8s.io/endpointslice/trafficdist/trafficdist.go`` writes them):

1. :class:`~lbalgo.kube.slice_controller.SliceSet` plays the EndpointSlice controller for one Service:
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

:func:`~lbalgo.kube.api_traffic.api_traffic` (its own module) puts numbers on
why EndpointSlices exist. The names of both modules are importable from here too.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .. import _validate, addresses
from ..errors import NoBackendAvailable
from .api_traffic import ApiTraffic, api_traffic, synthetic_service
from .proxy import MODES, SyncReport
from .service import Node, Service
from .slice_controller import ACTIONS, ObjectChurn, PodChange, SliceSet

# Importable from here since before the controller and the API-traffic model had modules of their own.
__all__ = ["ACTIONS", "PodChange", "ObjectChurn", "SliceSet", "ModeResult", "ChurnReport", "run_churn",
           "ApiTraffic", "synthetic_service", "api_traffic"]


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
        nodes = _validate.positive_count(nodes, "nodes")
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
