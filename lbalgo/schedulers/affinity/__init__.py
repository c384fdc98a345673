"""ClientIP session affinity around any scheduler: kube-proxy's three data planes.

Kubernetes ``sessionAffinity: ClientIP`` pins a client *address* to an
endpoint for ``timeoutSeconds`` (1..86400, default 10800). Each kube-proxy
mode implements it differently (iptables: ``pkg/proxy/iptables/proxier.go`` and Linux's
``net/netfilter/xt_recent.c``, ``recent_mt``; nftables: ``pkg/proxy/nftables/proxier.go``;
IPVS: ``pkg/proxy/ipvs/proxier.go``, then ``ip_vs_sched_persist`` in
``net/netfilter/ipvs/ip_vs_core.c`` and ``ip_vs_check_template`` / ``ip_vs_conn_expire`` in
``ip_vs_conn.c``)::

    iptables (xt_recent, one list per endpoint, keyed by source address):
        pick(c, now):
            for each endpoint e in list order:          # --rcheck --seconds T --reap
                if c in list(e):
                    hit = now - T <= last_set(c, e)
                    reap list(e): drop its oldest entry if now - T > its last set
                    if hit: chosen = e; stop
            if none: chosen = inner scheduler (the random cascade)
            --set in list(chosen): refresh c (newest), or add it; a list holding
                100 (ip_list_tot) clients first drops its oldest entry
        an endpoint that leaves (removed, weight 0) loses its list; back, it starts empty

    nftables (one set per endpoint, flags dynamic,timeout):
        pick(c, now):
            chosen = first endpoint e (list order) whose set holds c with now < expires(c, e)
            else the inner scheduler (numgen random)
            update @set(chosen): expires = now + T; a full set (65535) takes no new client
        an endpoint that leaves loses its set

    ipvs (persistence templates, scheduler bypassed while one is usable):
        pick(c, now):
            timers first: a template whose timer (<= now) fires while it controls
                connections is re-armed 60 s later with timeout 60 (sticky); else it ends
            usable = backend AVAILABLE and not (expire_quiescent_template and weight 0)
            usable: controlled += 1; timer = now + timeout; that backend
            else: drop it; backend = inner(); new template there: persistconns + 1
                  (the overload rule of a bind), controlled 1, timeout T, timer now + T
        release(b, key=c, now): controlled - 1 (after the timers due by now)

Only the client address counts (no port). The inner scheduler receives the
address as IPVS hashes it: IPv4 as is, IPv6 folded to 32 bits.
See ``docs/algorithms/affinity.md``.
"""

from .core import ClientIPAffinity, Pin

__all__ = ["ClientIPAffinity", "Pin"]
