"""The scenarios ``capture.py`` runs against nginx and HAProxy: config, lbalgo model and requests.

Each scenario is a dict: ``name``, ``program``, ``description``, the
``balancer`` line (nginx) or ``balance`` lines (HAProxy), ``servers``, the
lbalgo scheduler and options that model it, and ``drive``: an async
function that sends the requests through a :class:`capture.Driver`.
"""

from __future__ import annotations

import copy
import random
from typing import Any, Callable

BASE = 19001
DEAD = 19101  # nothing listens there: the peer refuses connections


# -- keys --------------------------------------------------------------------------------------------------
def clients(n: int, seed: int) -> list[str]:
    """``n`` distinct client addresses in 127.0.0.0/8 (several /24s, varied last octets)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out = []
    while len(out) < n:
        a = f"127.{rng.randrange(0, 256)}.{rng.randrange(0, 256)}.{rng.randrange(1, 255)}"
        if a not in seen:
            seen.add(a)
            out.append(a)
    return out


def uris(n: int, seed: int) -> list[str]:
    """``n`` request targets: paths of varied depth, some with query strings."""
    rng = random.Random(seed)
    words = ["img", "api", "v1", "v2", "items", "cat", "static", "js", "css", "user", "cart", "search"]
    out = []
    for i in range(n):
        depth = rng.randrange(1, 5)
        path = "/" + "/".join(rng.choice(words) + (str(rng.randrange(100)) if rng.random() < 0.5 else "")
                              for _ in range(depth))
        if rng.random() < 0.3:
            path += rng.choice([".png", ".js", ".html"])
        if rng.random() < 0.4:
            path += f"?page={rng.randrange(10)}&q={rng.choice(words)}"
        out.append(path)
    return out


def values(n: int, seed: int) -> list[str]:
    """``n`` header values (session ids, user names)."""
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randrange(4, 24))) for _ in range(n)]


# -- servers -----------------------------------------------------------------------------------------------
def nginx_servers(weights: list[int], *, down: tuple[int, ...] = (), backup: tuple[int, ...] = (),
                  dead: tuple[int, ...] = (), params: dict[int, dict[str, Any]] | None = None,
                  skip: tuple[int, ...] = ()) -> list[dict[str, Any]]:
    """Make nginx ``server`` lines: ports 19001 + i (``dead``: nothing listens), parameters, flags."""
    out = []
    for i, w in enumerate(weights):
        if i in skip:
            continue
        port = DEAD + i if i in dead else BASE + i
        p = {"weight": w, **(params or {}).get(i, {})}
        flags = (["down"] if i in down else []) + (["backup"] if i in backup else [])
        out.append({"port": port, "name": f"127.0.0.1:{port}", "params": p, "flags": flags})
    return out


def haproxy_servers(weights: list[int], *, ids: list[int] | None = None, backup: tuple[int, ...] = (),
                    maxconn: int | None = None, skip: tuple[int, ...] = ()) -> list[dict[str, Any]]:
    """HAProxy ``server s<i>`` lines on ports 19001 + i with weight, id, maxconn, backup."""
    out = []
    for i, w in enumerate(weights):
        if i in skip:
            continue
        p: dict[str, Any] = {"weight": w}
        if ids is not None:
            p["id"] = ids[i]
        if maxconn is not None:
            p["maxconn"] = maxconn
        out.append({"id": f"s{i}", "port": BASE + i, "name": f"127.0.0.1:{BASE + i}", "params": p,
                    "flags": ["backup"] if i in backup else []})
    return out


# -- drives ------------------------------------------------------------------------------------------------
def plain(n: int) -> Callable:
    """Drive: ``n`` requests without a key."""
    async def drive(d: Any) -> None:
        for _ in range(n):
            await d.pick()
    return drive


def by_client(addresses: list[str]) -> Callable:
    """Drive: one request from each client address."""
    async def drive(d: Any) -> None:
        for a in addresses:
            await d.pick(a, client=a)
    return drive


def by_uri(targets: list[str]) -> Callable:
    """Drive: one request for each target."""
    async def drive(d: Any) -> None:
        for u in targets:
            await d.pick(u, path=u)
    return drive


def by_header(vals: list[str]) -> Callable:
    """Drive: one request with each ``X-Key`` value (an empty value: no header)."""
    async def drive(d: Any) -> None:
        for v in vals:
            await d.pick(v, header=v if v else None)
    return drive


def holding(pattern: list[Any]) -> Callable:
    """Drive: ``"h"`` a held request, ``"p"`` a plain one, ``("r", k)`` release the k-th one still open."""
    async def drive(d: Any) -> None:
        open_ = []
        for step in pattern:
            if step == "h":
                open_.append(await d.pick(hold=True))
            elif step == "p":
                await d.pick()
            else:
                await d.release(open_.pop(step[1]))
        for h in open_:
            await d.release(h)
    return drive


LC_PATTERN = ["p"] * 9 + ["h"] + ["p"] * 6 + ["h", "h"] + ["p"] * 6 + [("r", 0)] + ["p"] * 4 + \
    ["h"] * 5 + ["p"] * 8 + [("r", 2), ("r", 0)] + ["p"] * 6 + ["h"] * 4 + [("r", 1)] + ["p"] * 6


def failures(rounds: int, per_round: int, pause: float) -> Callable:
    """Drive: rounds of timed requests separated by pauses (nginx's whole-second clock matters)."""
    async def drive(d: Any) -> None:
        for r in range(rounds):
            for _ in range(per_round):
                await d.pick(timed=True)
            if r + 1 < rounds:
                import asyncio
                await asyncio.sleep(pause)
    return drive


def nginx(name: str, description: str, balancer: str, servers: list[dict[str, Any]], lbalgo: str,
          options: dict[str, Any], drive: Callable, **extra: Any) -> dict[str, Any]:
    """Return an nginx scenario."""
    return {"name": name, "program": "nginx", "description": description, "balancer": balancer,
            "servers": servers, "lbalgo": lbalgo, "options": options, "drive": drive, **extra}


def haproxy(name: str, description: str, balance: list[str], servers: list[dict[str, Any]], lbalgo: str,
            options: dict[str, Any], drive: Callable, **extra: Any) -> dict[str, Any]:
    """Return an HAProxy scenario."""
    return {"name": name, "program": "haproxy", "description": description, "balance": balance,
            "servers": servers, "lbalgo": lbalgo, "options": options, "drive": drive, **extra}


def _names(weights: list[int], skip: tuple[int, ...] = ()) -> list[str]:
    return [f"127.0.0.1:{BASE + i}" for i in range(len(weights)) if i not in skip]


# -- nginx ---------------------------------------------------------------------------------------------------
NGINX = [
    nginx("nginx_rr_equal", "round robin, three equal peers", "", nginx_servers([1, 1, 1]),
          "nginx-rr", {"weights": [1, 1, 1]}, plain(30)),
    nginx("nginx_rr_511", "smooth WRR 5,1,1: 0 0 1 0 2 0 0", "", nginx_servers([5, 1, 1]),
          "nginx-rr", {"weights": [5, 1, 1]}, plain(35)),
    nginx("nginx_rr_432", "smooth WRR 4,3,2", "", nginx_servers([4, 3, 2]),
          "nginx-rr", {"weights": [4, 3, 2]}, plain(36)),
    nginx("nginx_rr_12345", "smooth WRR 1..5", "", nginx_servers([1, 2, 3, 4, 5]),
          "nginx-rr", {"weights": [1, 2, 3, 4, 5]}, plain(45)),
    nginx("nginx_rr_down", "peer 1 marked down", "", nginx_servers([3, 2, 1, 2], down=(1,)),
          "nginx-rr", {"weights": [3, 2, 1, 2], "down": [False, True, False, False]}, plain(40)),
    nginx("nginx_rr_backup", "primary peers down or at max_conns: the backups take over",
          "", nginx_servers([2, 1, 1, 2], down=(0,), backup=(2, 3), params={1: {"max_conns": 1}}),
          "nginx-rr", {"weights": [2, 1, 1, 2], "down": [True, False, False, False],
                       "backup": [False, False, True, True], "max_conns": [0, 1, 0, 0]},
          holding(["p", "p", "h"] + ["p"] * 9 + [("r", 0)] + ["p"] * 3)),
    nginx("nginx_rr_failures", "peer 1 refuses connections: max_fails=1 fail_timeout=2 jails it",
          "", nginx_servers([2, 1, 1, 3], dead=(1,), params={i: {"max_fails": 1, "fail_timeout": "2s"}
                                                             for i in range(4)}),
          "nginx-rr", {"weights": [2, 1, 1, 3], "max_fails": 1, "fail_timeout": 2},
          failures(4, 10, 2.6)),
    nginx("nginx_rr_failures_slow", "max_fails=3: each failure lowers the effective weight by 1",
          "", nginx_servers([1, 3, 2], dead=(1,), params={i: {"max_fails": 3, "fail_timeout": "3s"}
                                                          for i in range(3)}),
          "nginx-rr", {"weights": [1, 3, 2], "max_fails": 3, "fail_timeout": 3},
          failures(3, 14, 3.6)),
    nginx("nginx_rr_max_conns", "max_conns=1 on both peers: a third request finds none (502)",
          "", nginx_servers([1, 1], params={0: {"max_conns": 1}, 1: {"max_conns": 1}}),
          "nginx-rr", {"weights": [1, 1], "max_conns": 1},
          holding(["h", "h", "p", ("r", 0), "p", "p", ("r", 0), "p", "p"])),
    nginx("nginx_least_conn_equal", "least_conn, equal peers, held requests", "least_conn",
          nginx_servers([1, 1, 1]), "nginx-least-conn", {"weights": [1, 1, 1]}, holding(LC_PATTERN)),
    nginx("nginx_least_conn_weighted", "least_conn 2,1,1: conns/weight ties resolved by smooth WRR",
          "least_conn",
          nginx_servers([2, 1, 1]), "nginx-least-conn", {"weights": [2, 1, 1]}, holding(LC_PATTERN)),
    nginx("nginx_least_conn_backup", "least_conn with a down peer and a backup", "least_conn",
          nginx_servers([1, 2, 1, 1], down=(0,), backup=(3,),
                        params={1: {"max_conns": 2}, 2: {"max_conns": 1}}),
          "nginx-least-conn", {"weights": [1, 2, 1, 1], "down": [True, False, False, False],
                               "backup": [False, False, False, True], "max_conns": [0, 2, 1, 0]},
          holding(["h", "h", "h", "p", "h", "p", ("r", 0), "p", "p"])),
    nginx("nginx_ip_hash_equal", "ip_hash, four equal peers: the last octet is ignored", "ip_hash",
          nginx_servers([1, 1, 1, 1]), "nginx-ip-hash", {"weights": [1, 1, 1, 1]},
          by_client(clients(100, 1) + [f"127.1.2.{i}" for i in range(1, 21)])),
    nginx("nginx_ip_hash_weighted_down", "ip_hash 3,1,2,1 with peer 2 down: rehash from the running hash",
          "ip_hash", nginx_servers([3, 1, 2, 1], down=(2,)), "nginx-ip-hash",
          {"weights": [3, 1, 2, 1], "down": [False, False, True, False]}, by_client(clients(150, 2))),
    nginx("nginx_hash_remote_addr", "hash $remote_addr: crc32 bits 16..30 of the address text",
          "hash $remote_addr", nginx_servers([1, 1, 1, 1]), "nginx-hash", {"weights": [1, 1, 1, 1]},
          by_client(clients(120, 3))),
    nginx("nginx_hash_uri_weighted", "hash $request_uri, weights 3,1,2", "hash $request_uri",
          nginx_servers([3, 1, 2]), "nginx-hash", {"weights": [3, 1, 2]}, by_uri(uris(150, 4))),
    nginx("nginx_hash_uri_down", "hash $request_uri, peer 1 down: retries add crc32(n + key)",
          "hash $request_uri", nginx_servers([1, 1, 1, 1], down=(1,)), "nginx-hash",
          {"weights": [1, 1, 1, 1], "down": [False, True, False, False]}, by_uri(uris(150, 5))),
    nginx("nginx_hash_consistent_equal", "hash $request_uri consistent: ketama, 160 points per weight",
          "hash $request_uri consistent", nginx_servers([1, 1, 1, 1]), "nginx-hash",
          {"weights": [1, 1, 1, 1], "consistent": True, "servers": _names([1, 1, 1, 1])},
          by_uri(uris(200, 6))),
    nginx("nginx_hash_consistent_weighted", "ketama with weights 1,3,2", "hash $request_uri consistent",
          nginx_servers([1, 3, 2]), "nginx-hash",
          {"weights": [1, 3, 2], "consistent": True, "servers": _names([1, 3, 2])}, by_uri(uris(200, 6))),
    nginx("nginx_hash_consistent_removed", "ketama, peer 1 removed from the config (same keys)",
          "hash $request_uri consistent", nginx_servers([1, 1, 1, 1], skip=(1,)), "nginx-hash",
          {"weights": [1, 1, 1], "consistent": True, "servers": _names([1, 1, 1, 1], skip=(1,))},
          by_uri(uris(200, 6))),
    nginx("nginx_hash_consistent_down", "ketama, peer 2 down: its points stay, the walk moves on",
          "hash $request_uri consistent", nginx_servers([1, 2, 1, 1], down=(2,)), "nginx-hash",
          {"weights": [1, 2, 1, 1], "consistent": True, "servers": _names([1, 2, 1, 1]),
           "down": [False, False, True, False]}, by_uri(uris(200, 6))),
    nginx("nginx_hash_consistent_addr", "hash $remote_addr consistent", "hash $remote_addr consistent",
          nginx_servers([1, 1, 1, 1]), "nginx-hash",
          {"weights": [1, 1, 1, 1], "consistent": True, "servers": _names([1, 1, 1, 1])},
          by_client(clients(150, 7) + ["127.1.2.3"])),
    nginx("nginx_random", "random 5,1,1 with glibc random() from the worker's seed", "random",
          nginx_servers([5, 1, 1]), "nginx-random", {"weights": [5, 1, 1]}, plain(200), seed_search=True),
    nginx("nginx_random_two", "random two least_conn, held requests", "random two least_conn",
          nginx_servers([1, 2, 1, 1]), "nginx-random", {"weights": [1, 2, 1, 1], "two": True},
          holding(LC_PATTERN * 2), seed_search=True),
]


# -- HAProxy -------------------------------------------------------------------------------------------------
def runtime_rr(d: Any) -> Any:
    """Drive: roundrobin with ``set weight``, ``add server`` and ``del server`` between requests."""
    async def drive() -> None:
        for _ in range(50):
            await d.pick()
        d.set_weight(1, 5)
        for _ in range(60):
            await d.pick()
        d.set_weight(0, 0)
        for _ in range(30):
            await d.pick()
        d.set_weight(0, 3)
        for _ in range(60):
            await d.pick()
        d.add({"id": "s3", "port": BASE + 3, "name": f"127.0.0.1:{BASE + 3}", "params": {"weight": 2}})
        for _ in range(60):
            await d.pick()
        d.remove(1)
        for _ in range(60):
            await d.pick()
        d.set_weight(2, 4)
        for _ in range(80):
            await d.pick()
    return drive()


def runtime_lc(d: Any) -> Any:
    """Drive: leastconn with weight changes and an added server while requests are held."""
    async def drive() -> None:
        held = []
        for _ in range(6):
            held.append(await d.pick(hold=True))
        d.set_weight(0, 3)
        for _ in range(4):
            held.append(await d.pick(hold=True))
        await d.release(held.pop(0))
        d.set_weight(1, 0)
        for _ in range(5):
            await d.pick()
        d.add({"id": "s3", "port": BASE + 3, "name": f"127.0.0.1:{BASE + 3}", "params": {"weight": 1}})
        for _ in range(4):
            held.append(await d.pick(hold=True))
        for h in held:
            await d.release(h)
        for _ in range(8):
            await d.pick()
    return drive()


def runtime_static(d: Any) -> Any:
    """Drive: static-rr with ``set weight 0`` and back to the initial weight."""
    async def drive() -> None:
        for _ in range(20):
            await d.pick()
        d.set_weight(0, 0)
        for _ in range(20):
            await d.pick()
        d.set_weight(0, 4)
        for _ in range(40):
            await d.pick()
    return drive()


def chash_add(keys: list[str]) -> Callable:
    """Drive: the same clients around ``add server`` (with and without ``id``), ``set weight``, ``del``."""
    async def drive(d: Any) -> None:
        for a in keys:
            await d.pick(a, client=a)
        d.add({"id": "s3", "port": BASE + 3, "name": f"127.0.0.1:{BASE + 3}", "params": {"weight": 1}})
        for a in keys:
            await d.pick(a, client=a)
        d.add({"id": "s4", "port": BASE + 4, "name": f"127.0.0.1:{BASE + 4}",
               "params": {"weight": 2, "id": 9}}, {"id": 9})
        for a in keys:
            await d.pick(a, client=a)
        d.set_weight(3, 3)
        for a in keys:
            await d.pick(a, client=a)
        d.remove(1)
        for a in keys:
            await d.pick(a, client=a)
    return drive


def mixed_headers(vals: list[str]) -> list[str]:
    """Every 7th value left out (a request without the header)."""
    return [v if i % 7 else "" for i, v in enumerate(vals)]


URIS = uris(200, 11)
SOURCES = clients(150, 12)
W4 = [1, 1, 1, 1]

HAPROXY = [
    haproxy("haproxy_roundrobin_equal", "roundrobin, three equal servers", ["balance roundrobin"],
            haproxy_servers([1, 1, 1]), "haproxy-roundrobin", {"weights": [1, 1, 1]}, plain(48)),
    haproxy("haproxy_roundrobin_511", "FWRR 5,1,1 (two periods of 112)", ["balance roundrobin"],
            haproxy_servers([5, 1, 1]), "haproxy-roundrobin", {"weights": [5, 1, 1]}, plain(224)),
    haproxy("haproxy_roundrobin_432", "FWRR 4,3,2", ["balance roundrobin"], haproxy_servers([4, 3, 2]),
            "haproxy-roundrobin", {"weights": [4, 3, 2]}, plain(288)),
    haproxy("haproxy_roundrobin_12345", "FWRR 1..5", ["balance roundrobin"], haproxy_servers([1, 2, 3, 4, 5]),
            "haproxy-roundrobin", {"weights": [1, 2, 3, 4, 5]}, plain(480)),
    haproxy("haproxy_roundrobin_runtime", "FWRR with set weight, add server and del server at run time",
            ["balance roundrobin"], haproxy_servers([3, 2, 1]), "haproxy-roundrobin", {"weights": [3, 2, 1]},
            runtime_rr),
    haproxy("haproxy_roundrobin_backup", "roundrobin: active servers weight 0, two backups with allbackups",
            ["balance roundrobin", "option allbackups"], haproxy_servers([0, 0, 1, 3], backup=(2, 3)),
            "haproxy-roundrobin", {"weights": [0, 0, 1, 3], "backup": [False, False, True, True],
                                   "allbackups": True}, plain(40)),
    haproxy("haproxy_roundrobin_maxconn", "roundrobin 3,1,1 with maxconn 2: full servers are skipped",
            ["balance roundrobin"], haproxy_servers([3, 1, 1], maxconn=2), "haproxy-roundrobin",
            {"weights": [3, 1, 1], "maxconn": 2},
            holding(["h", "h", "p", "h", "h", "p", "h", ("r", 0), "p", "p", ("r", 0), ("r", 0)] + ["p"] * 3),
            sync_served=True),
    haproxy("haproxy_static_rr_432", "static-rr 4,3,2", ["balance static-rr"], haproxy_servers([4, 3, 2]),
            "haproxy-static-rr", {"weights": [4, 3, 2]}, plain(160)),
    haproxy("haproxy_static_rr_12345", "static-rr 1..5", ["balance static-rr"],
            haproxy_servers([1, 2, 3, 4, 5]), "haproxy-static-rr", {"weights": [1, 2, 3, 4, 5]}, plain(250)),
    haproxy("haproxy_static_rr_runtime", "static-rr 4,2,2 (gcd 2) with set weight 0 and back",
            ["balance static-rr"], haproxy_servers([4, 2, 2]), "haproxy-static-rr", {"weights": [4, 2, 2]},
            runtime_static),
    haproxy("haproxy_static_rr_backup", "static-rr, actives weight 0, backups 1 and 4 (first backup alone)",
            ["balance static-rr"], haproxy_servers([0, 0, 1, 4], backup=(2, 3)), "haproxy-static-rr",
            {"weights": [0, 0, 1, 4], "backup": [False, False, True, True]}, plain(40)),
    haproxy("haproxy_static_rr_backup_heavy", "static-rr, no active server, backups 2 and 7: the map has the "
            "first backup's 2 slots, and the heavier second backup scores them both",
            ["balance static-rr"], haproxy_servers([0, 2, 7], backup=(1, 2)), "haproxy-static-rr",
            {"weights": [0, 2, 7], "backup": [False, True, True]}, plain(20)),
    haproxy("haproxy_source_map_backup_heavy", "source map-based, no active server, backups 2 and 7",
            ["balance source"], haproxy_servers([0, 2, 7], backup=(1, 2)), "haproxy-source",
            {"weights": [0, 2, 7], "backup": [False, True, True]}, by_client(SOURCES[:40])),
    haproxy("haproxy_leastconn_equal", "leastconn, equal servers, held requests", ["balance leastconn"],
            haproxy_servers([1, 1, 1]), "haproxy-leastconn", {"weights": [1, 1, 1]}, holding(LC_PATTERN),
            sync_served=True),
    haproxy("haproxy_leastconn_weighted", "leastconn 2,1,1: (n+1)*4096/eweight, queue order on ties",
            ["balance leastconn"], haproxy_servers([2, 1, 1]), "haproxy-leastconn", {"weights": [2, 1, 1]},
            holding(LC_PATTERN), sync_served=True),
    haproxy("haproxy_leastconn_runtime", "leastconn with set weight and add server while requests are held",
            ["balance leastconn"], haproxy_servers([1, 2, 1]), "haproxy-leastconn", {"weights": [1, 2, 1]},
            runtime_lc, sync_served=True),
    haproxy("haproxy_first_maxconn", "first with maxconn 2: fill the first server, then the next",
            ["balance first"], haproxy_servers([1, 1, 1], maxconn=2), "haproxy-first",
            {"weights": [1, 1, 1], "maxconn": 2},
            holding(["h", "h", "h", "p", "h", "h", ("r", 0), "p", "h", ("r", 3), ("r", 2), "p", "p"]),
            sync_served=True),
    haproxy("haproxy_source_map_equal", "source, map-based: ip mod 64", ["balance source"],
            haproxy_servers(W4), "haproxy-source", {"weights": W4}, by_client(SOURCES)),
    haproxy("haproxy_source_map_weighted", "source, map-based 3,1,2,1", ["balance source"],
            haproxy_servers([3, 1, 2, 1]), "haproxy-source", {"weights": [3, 1, 2, 1]}, by_client(SOURCES)),
    haproxy("haproxy_source_map_avalanche", "source, map-based sdbm avalanche, 2,4,2 (gcd 2)",
            ["balance source", "hash-type map-based sdbm avalanche"], haproxy_servers([2, 4, 2]),
            "haproxy-source", {"weights": [2, 4, 2], "avalanche": True}, by_client(SOURCES)),
    haproxy("haproxy_source_consistent", "source, consistent (implied sdbm + avalanche)",
            ["balance source", "hash-type consistent"], haproxy_servers(W4), "haproxy-source",
            {"weights": W4, "hash_type": "consistent"}, by_client(SOURCES + ["127.1.2.3"])),
    haproxy("haproxy_source_consistent_crc32", "source, consistent crc32: no avalanche",
            ["balance source", "hash-type consistent crc32"], haproxy_servers([1, 2, 1, 1]), "haproxy-source",
            {"weights": [1, 2, 1, 1], "hash_type": "consistent", "hash_function": "crc32"},
            by_client(SOURCES)),
    haproxy("haproxy_source_consistent_removed_auto", "consistent, s1 removed: auto ids renumber s2, s3",
            ["balance source", "hash-type consistent"], haproxy_servers(W4, skip=(1,)), "haproxy-source",
            {"weights": [1, 1, 1], "hash_type": "consistent"}, by_client(SOURCES)),
    haproxy("haproxy_source_consistent_removed_ids", "consistent with explicit ids 1..4, s1 removed",
            ["balance source", "hash-type consistent"], haproxy_servers(W4, ids=[1, 2, 3, 4], skip=(1,)),
            "haproxy-source", {"weights": [1, 1, 1], "hash_type": "consistent", "ids": [1, 3, 4]},
            by_client(SOURCES)),
    haproxy("haproxy_source_consistent_ids_mixed",
            "consistent, ids: none, 1, none -> 2, 1, 4 (next_id counts every server)",
            ["balance source", "hash-type consistent"],
            [dict(srv, params={k: v for k, v in srv["params"].items() if k != "id"}) if i != 1 else srv
             for i, srv in enumerate(haproxy_servers([1, 1, 1], ids=[0, 1, 0]))],
            "haproxy-source", {"weights": [1, 1, 1], "hash_type": "consistent", "ids": [None, 1, None]},
            by_client(SOURCES)),
    haproxy("haproxy_source_consistent_runtime",
            "consistent: add server (no id: points of id 0), add with id, set weight, del server",
            ["balance source", "hash-type consistent"], haproxy_servers([1, 1, 1]),
            "haproxy-source", {"weights": [1, 1, 1], "hash_type": "consistent"}, chash_add(SOURCES[:60])),
    haproxy("haproxy_uri_map_sdbm", "uri, map-based sdbm (the defaults), cut at '?'", ["balance uri"],
            haproxy_servers(W4), "haproxy-uri", {"weights": W4}, by_uri(URIS)),
    haproxy("haproxy_uri_map_weighted", "uri, map-based 3,1,2 (weighted map, not a plain modulo)",
            ["balance uri"], haproxy_servers([3, 1, 2]), "haproxy-uri", {"weights": [3, 1, 2]}, by_uri(URIS)),
    haproxy("haproxy_uri_map_djb2_avalanche", "uri, map-based djb2 avalanche",
            ["balance uri", "hash-type map-based djb2 avalanche"], haproxy_servers([3, 1, 2]), "haproxy-uri",
            {"weights": [3, 1, 2], "hash_function": "djb2", "avalanche": True}, by_uri(URIS)),
    haproxy("haproxy_uri_map_wt6", "uri, map-based wt6", ["balance uri", "hash-type map-based wt6"],
            haproxy_servers(W4), "haproxy-uri", {"weights": W4, "hash_function": "wt6"}, by_uri(URIS)),
    haproxy("haproxy_uri_consistent", "uri, consistent (sdbm + avalanche)",
            ["balance uri", "hash-type consistent"], haproxy_servers(W4), "haproxy-uri",
            {"weights": W4, "hash_type": "consistent"}, by_uri(URIS)),
    haproxy("haproxy_uri_consistent_wt6", "uri, consistent wt6 (no avalanche)",
            ["balance uri", "hash-type consistent wt6"], haproxy_servers([2, 1, 1]), "haproxy-uri",
            {"weights": [2, 1, 1], "hash_type": "consistent", "hash_function": "wt6"}, by_uri(URIS)),
    haproxy("haproxy_uri_consistent_crc32_avalanche", "uri, consistent crc32 avalanche",
            ["balance uri", "hash-type consistent crc32 avalanche"], haproxy_servers([1, 2, 3]),
            "haproxy-uri",
            {"weights": [1, 2, 3], "hash_type": "consistent", "hash_function": "crc32", "avalanche": True},
            by_uri(URIS)),
    haproxy("haproxy_uri_consistent_djb2", "uri, consistent djb2",
            ["balance uri", "hash-type consistent djb2"], haproxy_servers(W4), "haproxy-uri",
            {"weights": W4, "hash_type": "consistent", "hash_function": "djb2"}, by_uri(URIS)),
    haproxy("haproxy_uri_whole", "uri whole (the query counts)", ["balance uri whole"], haproxy_servers(W4),
            "haproxy-uri", {"weights": W4, "whole": True}, by_uri(URIS)),
    haproxy("haproxy_uri_len_depth", "uri len 12 depth 2", ["balance uri len 12 depth 2"],
            haproxy_servers([1, 2, 1]), "haproxy-uri", {"weights": [1, 2, 1], "len": 12, "depth": 2},
            by_uri(URIS)),
    haproxy("haproxy_hdr_consistent_djb2", "hdr(X-Key) consistent djb2; every 7th request without the header",
            ["balance hdr(X-Key)", "hash-type consistent djb2"], haproxy_servers([1, 1, 2]), "haproxy-hdr",
            {"weights": [1, 1, 2], "hash_type": "consistent", "hash_function": "djb2", "header": "X-Key"},
            by_header(mixed_headers(values(150, 13)))),
    haproxy("haproxy_hdr_map_wt6", "hdr(X-Key) map-based wt6; every 7th request without the header",
            ["balance hdr(X-Key)", "hash-type map-based wt6"], haproxy_servers([2, 1, 1]), "haproxy-hdr",
            {"weights": [2, 1, 1], "hash_function": "wt6", "header": "X-Key"},
            by_header(mixed_headers(values(150, 14)))),
    haproxy("haproxy_random", "random (2 draws) 3,1,2 with held requests", ["balance random"],
            haproxy_servers([3, 1, 2]), "haproxy-random", {"weights": [3, 1, 2]}, holding(LC_PATTERN * 3),
            sync_served=True),
    haproxy("haproxy_random_draws1", "random(1): one ring lookup per request", ["balance random(1)"],
            haproxy_servers(W4), "haproxy-random", {"weights": W4, "draws": 1}, plain(200), sync_served=True),
]

SCENARIOS = NGINX + HAPROXY


def fresh(scenario: dict[str, Any]) -> dict[str, Any]:
    """Copy a scenario: the run may extend its server list and options."""
    out = dict(scenario)
    out["servers"] = copy.deepcopy(scenario["servers"])
    out["options"] = copy.deepcopy(scenario["options"])
    return out
