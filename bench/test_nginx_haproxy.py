"""nginx and HAProxy balancers: lbalgo beside the plain-Python reference, and beside C for the round robins.

Groups (100 backends, weights 1..10; keyed balancers get one IPv4 client per decision):

``nh-<name>``
    ``pick_many(BATCH)`` on lbalgo, and the plain-Python reference's
    ``pick`` over a REF_BATCH slice with the same keys (its decisions are
    asserted equal to lbalgo's). ``ratio_vs_python`` = reference ns / lbalgo
    ns per decision (target: >= 100).
    For ``nginx-rr`` and ``haproxy-roundrobin`` the group also holds a C loop
    (gcc -O2) of the same algorithm doing the same work: it runs on copies
    of the scheduler's own table and state (the same layout, the same
    steps: nginx's smooth-WRR pass, with lbalgo's exact shortcut when no
    peer can be skipped; FWRR's positions, trees as the same binary heaps,
    maxconn set-aside), counts each connection as lbalgo does (active += 1,
    then the threshold check), and is asserted to leave the same decisions,
    table and state. ``ratio_vs_c`` = lbalgo ns / C ns (target: <= 2).
``nh-strings-<name>``
    The string-hashing balancers on STRINGS request targets: ``pick_many``
    of the Python strings (encoding and hashing included) beside a plain
    Python loop that hashes each string and picks (the reference).
    ``ratio_vs_python`` (target: >= 20).

Every result has ``ns_per_decision`` (fastest round) in ``extra_info``.
"""

import ctypes
import os
import shutil
import subprocess
import tempfile

import numpy as np
import pytest

import lbalgo
from bench.conftest import hit_spread, mixed_weights, ns_per, paired
from lbalgo import _table as T
from lbalgo.schedulers.haproxy import _heap as HH
from lbalgo.schedulers.haproxy import _servers as HC
from lbalgo.schedulers.haproxy import roundrobin as HR
from lbalgo.schedulers.nginx import _peers as NC
from tests.reference import REFERENCES

NAMES = [n for n in lbalgo.names() if n.startswith(("nginx-", "haproxy-"))]
STRING_NAMES = ["nginx-hash", "haproxy-uri", "haproxy-hdr"]
N = 100
BATCH = 200_000
REF_BATCH = 5_000
STRINGS = 100_000
REF_STRINGS = 5_000
PY_RATIO = [("ratio_vs_python", "plain-python", "lbalgo")]
C_RATIO = [("ratio_vs_c", "lbalgo", "C gcc -O2")]


def _keys(n, seed=11):
    return np.random.default_rng(seed).integers(0, 2**32, size=n, dtype=np.int64).astype(np.uint32)


def _targets(n, seed=5):
    rng = np.random.default_rng(seed)
    words = ["img", "api", "v1", "items", "cat", "static", "js", "user", "cart", "search"]
    cols = zip(rng.integers(0, 10, n), rng.integers(0, 10, n),
               rng.integers(0, 10**6, n), rng.integers(0, 9, n))
    return [f"/{words[a]}/{words[b]}/{c}.png?page={d}" for a, b, c, d in cols]


def _fresh(name):
    return lbalgo.get(name)(weights=mixed_weights(N), seed=1)


def _work(name, n):
    return _keys(n) if lbalgo.get(name).keyed else n


@pytest.mark.parametrize("name", NAMES)
def test_lbalgo(benchmark, name):
    benchmark.group = f"nh-{name}"
    _fresh(name).pick_many(_keys(100) if lbalgo.get(name).keyed else 100)  # warm-up JIT / load cache
    s = _fresh(name)
    work = _work(name, BATCH)
    ids = benchmark(s.pick_many, work)
    assert len(ids) == BATCH and (ids >= 0).all()
    ns = ns_per(benchmark, BATCH, "min")
    benchmark.extra_info.update(impl="lbalgo", n_backends=N, decisions=BATCH, ns_per_decision=ns,
                                hit_spread=hit_spread(ids, N))
    paired(("nh", name), "lbalgo", ns, benchmark.extra_info, PY_RATIO + C_RATIO)


@pytest.mark.parametrize("name", NAMES)
def test_plain_python(benchmark, name):
    benchmark.group = f"nh-{name}"
    keys = _keys(REF_BATCH).tolist() if lbalgo.get(name).keyed else [None] * REF_BATCH
    ref = REFERENCES[name](mixed_weights(N), seed=1)

    def run():
        pick = ref.pick
        return [pick(k) for k in keys]

    ids = benchmark.pedantic(run, rounds=3, iterations=1)
    assert len(ids) == REF_BATCH and min(ids) >= 0
    # The same decisions as the kernel on this slice (the first round; later rounds continue).
    again = REFERENCES[name](mixed_weights(N), seed=1)
    want = [again.pick(k) for k in keys]
    got = _fresh(name).pick_many(np.array(keys, dtype=np.uint32) if lbalgo.get(name).keyed else REF_BATCH)
    assert got.tolist() == want
    ns = ns_per(benchmark, REF_BATCH, "min")
    benchmark.extra_info.update(impl="plain-python", n_backends=N, decisions=REF_BATCH, ns_per_decision=ns)
    paired(("nh", name), "plain-python", ns, benchmark.extra_info, PY_RATIO)


@pytest.mark.parametrize("name", STRING_NAMES)
def test_strings_lbalgo(benchmark, name):
    benchmark.group = f"nh-strings-{name}"
    targets = _targets(STRINGS)
    _fresh(name).pick_many(targets[:100])  # warm-up JIT / load cache
    s = _fresh(name)
    ids = benchmark(s.pick_many, targets)
    assert len(ids) == STRINGS and (ids >= 0).all()
    ns = ns_per(benchmark, STRINGS, "min")
    benchmark.extra_info.update(impl="lbalgo", n_backends=N, decisions=STRINGS, ns_per_decision=ns)
    paired(("nh-strings", name), "lbalgo", ns, benchmark.extra_info, PY_RATIO)


@pytest.mark.parametrize("name", STRING_NAMES)
def test_strings_plain_python(benchmark, name):
    benchmark.group = f"nh-strings-{name}"
    targets = _targets(STRINGS)[:REF_STRINGS]
    ref = REFERENCES[name](mixed_weights(N), seed=1)

    def run():
        pick = ref.pick
        return [pick(t) for t in targets]

    ids = benchmark.pedantic(run, rounds=3, iterations=1)
    assert len(ids) == REF_STRINGS and min(ids) >= 0
    again = REFERENCES[name](mixed_weights(N), seed=1)
    assert _fresh(name).pick_many(targets).tolist() == [again.pick(t) for t in targets]
    ns = ns_per(benchmark, REF_STRINGS, "min")
    benchmark.extra_info.update(impl="plain-python", n_backends=N, decisions=REF_STRINGS, ns_per_decision=ns)
    paired(("nh-strings", name), "plain-python", ns, benchmark.extra_info, PY_RATIO)


# --- the same loops in C ------------------------------------------------------------------------

C_SOURCE = r"""
#include <stdint.h>
typedef int64_t i64;
#define F_OVERLOAD {F_OVERLOAD}
#define TC tc
#define ROW(r) ((r) * tc)

/* lbalgo's account_at for COUNT_ACTIVE: count one active connection on slot s; return its backend id. */
static inline i64 account_at(i64 *t, i64 tc, i64 s) {{
    if (s < 0) return -1;
    t[ROW({ACTIVE}) + s] += 1;
    i64 up = t[ROW({U_THRESHOLD}) + s];
    if (up != 0 && t[ROW({ACTIVE}) + s] + t[ROW({INACTIVE}) + s] >= up) t[ROW({FLAGS}) + s] |= F_OVERLOAD;
    return t[ROW({BACKEND}) + s];
}}

/* ---- nginx smooth WRR (ngx_http_upstream_get_peer) on lbalgo's nginx state layout ---- */
typedef struct {{
    i64 *weight, *flags, *cw, *ew, *fails, *checked, *backup, *max_fails, *fail_timeout;
}} peers_t;

static inline int ng_usable(const peers_t *p, i64 s, i64 now) {{
    if (p->weight[s] == 0 || (p->flags[s] & F_OVERLOAD)) return 0;
    i64 f = p->fails[s];
    if (f && p->max_fails[s] && f >= p->max_fails[s] && now - p->checked[s] <= p->fail_timeout[s]) return 0;
    return 1;
}}
static inline void ng_touch(const peers_t *p, i64 s, i64 now) {{
    if (now - p->checked[s] > p->fail_timeout[s]) p->checked[s] = now;
}}
static i64 ng_pass(const peers_t *p, i64 n, i64 group, i64 now) {{
    i64 best = -1, best_cw = 0, total = 0;
    for (i64 s = 0; s < n; s++) {{
        if (p->backup[s] != group || !ng_usable(p, s, now)) continue;
        i64 e = p->ew[s], c = p->cw[s] + e;
        p->cw[s] = c;
        total += e;
        if (e < p->weight[s]) p->ew[s] = e + 1;
        if (best < 0 || c > best_cw) {{ best = s; best_cw = c; }}
    }}
    if (best >= 0) {{ p->cw[best] = best_cw - total; ng_touch(p, best, now); }}
    return best;
}}
/* The shortcut lbalgo takes when no peer can be skipped but a down one (see swrr_clean). */
static i64 ng_clean(const peers_t *p, i64 n, i64 total, i64 now) {{
    i64 best = 0, best_cw = p->cw[0] + p->weight[0];
    p->cw[0] = best_cw;
    for (i64 s = 1; s < n; s++) {{
        i64 c = p->cw[s] + p->weight[s];
        p->cw[s] = c;
        if (c > best_cw) {{ best = s; best_cw = c; }}
    }}
    p->cw[best] = best_cw - total;
    ng_touch(p, best, now);
    return best;
}}
i64 nginx_rr_loop(i64 *t, i64 tc, i64 *st, i64 count, i64 *out) {{
    i64 cap = st[{N_CAP}], base = {N_HEADER} + {N_ID_ROWS} * cap, n = t[ROW({T_HEADER}) + {LISTED}];
    peers_t p = {{t + ROW({WEIGHT}), t + ROW({FLAGS}), st + base + {S_CW} * cap, st + base + {S_EW} * cap,
                 st + base + {S_FAILS} * cap, st + base + {S_CHECKED} * cap, st + base + {S_BACKUP} * cap,
                 st + base + {S_MAX_FAILS} * cap, st + base + {S_FAIL_TIMEOUT} * cap}};
    i64 now = 0, b = -1;
    for (i64 i = 0; i < count; i++) {{
        i64 s = -1;
        if (st[{NPRIM}] == 1 && st[{NBACK}] == 0) {{
            for (i64 k = 0; k < n; k++) if (p.backup[k] == 0) {{
                if (!(p.weight[k] == 0 || (p.flags[k] & F_OVERLOAD))) s = k;
                break;
            }}
        }} else if (st[{CLEAN}]) {{
            if (st[{LIVE_TOTAL}]) s = ng_clean(&p, n, st[{LIVE_TOTAL}], now);
        }} else {{
            s = ng_pass(&p, n, 0, now);
            if (s < 0 && st[{NBACK}] > 0) s = ng_pass(&p, n, 1, now);
        }}
        b = account_at(t, tc, s);
        out[i] = b;
    }}
    return b;
}}

/* ---- HAProxy FWRR (lb_fwrr.c) on lbalgo's HAProxy state layout: trees as binary heaps ---- */
#define AT(row, b) ({H_HEADER} + (row) * cap + (b))
#define GRP(b) ({GROUPS} + 4 * st[AT({ID_BACKUP}, b)])
#define HEAP_OF(tree, backup) (3 * (backup) + (tree) - 1)

static inline void sift_up(i64 *st, i64 cap, i64 keys, i64 i, i64 b, i64 pb) {{
    i64 ids = keys + cap;
    while (i > 0) {{
        i64 parent = (i - 1) >> 1;
        if (st[keys + parent] < pb) break;
        i64 c = st[ids + parent];
        st[keys + i] = st[keys + parent]; st[ids + i] = c; st[AT({ID_POS}, c)] = i;
        i = parent;
    }}
    st[keys + i] = pb; st[ids + i] = b; st[AT({ID_POS}, b)] = i;
}}
static inline void sift_down(i64 *st, i64 cap, i64 keys, i64 n, i64 i, i64 b, i64 pb) {{
    i64 ids = keys + cap;
    for (;;) {{
        i64 child = 2 * i + 1;
        if (child >= n) break;
        i64 pc = st[keys + child];
        if (child + 1 < n && st[keys + child + 1] < pc) {{ child++; pc = st[keys + child]; }}
        if (pb < pc) break;
        i64 c = st[ids + child];
        st[keys + i] = pc; st[ids + i] = c; st[AT({ID_POS}, c)] = i;
        i = child;
    }}
    st[keys + i] = pb; st[ids + i] = b; st[AT({ID_POS}, b)] = i;
}}
static inline i64 heap_keys(i64 *st, i64 cap, i64 h) {{ return st[{REGION_AT}] + 2 * h * cap; }}
static inline i64 heap_top(i64 *st, i64 cap, i64 h) {{
    return st[{HSIZE} + h] ? st[heap_keys(st, cap, h) + cap] : -1;
}}
static inline void heap_push(i64 *st, i64 cap, i64 h, i64 b) {{
    i64 i = st[{HSIZE} + h]++;
    sift_up(st, cap, heap_keys(st, cap, h), i, b, st[AT({ID_PRIO}, b)]);
}}
static inline void heap_remove(i64 *st, i64 cap, i64 h, i64 b) {{
    i64 keys = heap_keys(st, cap, h), n = --st[{HSIZE} + h], i = st[AT({ID_POS}, b)];
    if (i == n) return;
    i64 last = st[keys + cap + n], pl = st[keys + n];
    if (i > 0 && pl < st[keys + ((i - 1) >> 1)]) sift_up(st, cap, keys, i, last, pl);
    else sift_down(st, cap, keys, n, i, last, pl);
}}
static inline void set_prio(i64 *st, i64 cap, i64 b, i64 key) {{
    i64 q = st[{SEQ}]++;  /* (the renumbering at 2**31 insertions is not reached here) */
    st[AT({ID_KEY}, b)] = key; st[AT({ID_SEQ}, b)] = q; st[AT({ID_PRIO}, b)] = (key << 31) | q;
}}
static inline void link_(i64 *st, i64 cap, i64 b, i64 tree, i64 key) {{
    st[AT({ID_TREE}, b)] = tree;
    set_prio(st, cap, b, key & 0xFFFFFFFFLL);
    st[AT({ID_LINKED}, b)] = 1;
    heap_push(st, cap, HEAP_OF(tree, st[AT({ID_BACKUP}, b)]), b);
}}
static inline void unlink_(i64 *st, i64 cap, i64 b) {{
    if (st[AT({ID_LINKED}, b)]) {{
        heap_remove(st, cap, HEAP_OF(st[AT({ID_TREE}, b)], st[AT({ID_BACKUP}, b)]), b);
        st[AT({ID_LINKED}, b)] = 0;
    }}
}}
static inline void queue_srv(i64 *st, i64 cap, i64 b, i64 ew) {{
    i64 g = GRP(b), *npos = &st[AT({ID_NPOS}, b)];
    if (ew <= 0) st[AT({ID_TREE}, b)] = {NO_TREE};
    else if (*npos >= 2 * st[g + {CURR_WEIGHT}] || *npos >= st[g + {CURR_WEIGHT}] + st[g + {NEXT_WEIGHT}]) {{
        *npos -= st[g + {CURR_WEIGHT}];
        link_(st, cap, b, 5 - st[g + {INIT}], {EW_MAX} - ew);
    }} else
        link_(st, cap, b, {CURR}, 256 * *npos + ({EW_MAX} + st[AT({ID_RWEIGHT}, b)] - ew) / 16);
}}
static inline void requeue_top(i64 *st, i64 cap, i64 g, i64 backup, i64 b) {{
    i64 src = HEAP_OF(st[AT({ID_TREE}, b)], backup), ew = st[AT({ID_EW}, b)], *npos = &st[AT({ID_NPOS}, b)];
    i64 tree, key;
    if (*npos >= 2 * st[g + {CURR_WEIGHT}] || *npos >= st[g + {CURR_WEIGHT}] + st[g + {NEXT_WEIGHT}]) {{
        *npos -= st[g + {CURR_WEIGHT}];
        tree = 5 - st[g + {INIT}]; key = {EW_MAX} - ew;
    }} else {{
        tree = {CURR}; key = 256 * *npos + ({EW_MAX} + st[AT({ID_RWEIGHT}, b)] - ew) / 16;
    }}
    st[AT({ID_TREE}, b)] = tree;
    set_prio(st, cap, b, key & 0xFFFFFFFFLL);
    i64 dst = HEAP_OF(tree, backup);
    if (dst == src) {{
        i64 keys = heap_keys(st, cap, dst);
        sift_down(st, cap, keys, st[{HSIZE} + dst], 0, b, st[AT({ID_PRIO}, b)]);
    }} else {{ heap_remove(st, cap, src, b); heap_push(st, cap, dst, b); }}
}}
static inline i64 from_group(i64 *st, i64 cap, i64 g, i64 backup) {{
    i64 s1 = heap_top(st, cap, HEAP_OF({CURR}, backup));
    if (s1 >= 0 && st[AT({ID_EW}, s1)] && st[AT({ID_NPOS}, s1)] <= st[g + {CURR_POS}]) return s1;
    i64 s2 = heap_top(st, cap, HEAP_OF(st[g + {INIT}], backup));
    if (s2 >= 0 && st[AT({ID_EW}, s2)]) {{
        st[AT({ID_NPOS}, s2)] = 0; st[AT({ID_RWEIGHT}, s2)] = 0; return s2;
    }}
    return s1;
}}
static inline i64 fwrr_next(i64 *t, i64 tc, i64 *st) {{
    i64 cap = st[{H_CAP}], backup;
    if (st[{SRV_ACT}]) backup = 0;
    else if (st[{FBCK}] >= 0) return st[{FBCK}];
    else if (st[{SRV_BCK}]) backup = 1;
    else return -1;
    i64 g = {GROUPS} + 4 * backup, full = -1, srv = -1;
    int switched = 0;
    for (;;) {{
        if (st[g + {CURR_WEIGHT}] == 0) st[g + {CURR_POS}] = st[g + {CURR_WEIGHT}] = st[g + {NEXT_WEIGHT}];
        srv = from_group(st, cap, g, backup);
        if (srv < 0) {{
            if (switched) break;
            switched = 1;
            st[g + {INIT}] = 5 - st[g + {INIT}];
            st[g + {CURR_WEIGHT}] = st[g + {NEXT_WEIGHT}];
            st[g + {CURR_POS}] = st[g + {CURR_WEIGHT}];
            continue;
        }}
        i64 ew = st[AT({ID_EW}, srv)];
        if (ew) {{  /* fwrr_update_position, with the steps precomputed as lbalgo keeps them */
            i64 *npos = &st[AT({ID_NPOS}, srv)], *rw = &st[AT({ID_RWEIGHT}, srv)];
            if (*npos == 0) *npos = st[g + {CURR_POS}];
            st[AT({ID_LPOS}, srv)] = *npos;
            *npos += st[AT({ID_STEP}, srv)];
            *rw += st[AT({ID_REM}, srv)];
            if (*rw >= ew) {{ *rw -= ew; *npos += 1; }}
        }}
        st[g + {CURR_POS}] += 1;
        if (!(t[ROW({FLAGS}) + t[ROW({SLOT}) + srv]] & F_OVERLOAD)) {{
            requeue_top(st, cap, g, backup, srv);
            break;
        }}
        unlink_(st, cap, srv);
        st[AT({ID_NEXT_FULL}, srv)] = full;
        full = srv;
        srv = -1;
    }}
    while (full >= 0) {{
        i64 nxt = st[AT({ID_NEXT_FULL}, full)];
        if (switched) link_(st, cap, full, st[g + {INIT}], {EW_MAX} - st[AT({ID_EW}, full)]);
        else queue_srv(st, cap, full, st[AT({ID_EW}, full)]);
        full = nxt;
    }}
    return srv;
}}
i64 haproxy_rr_loop(i64 *t, i64 tc, i64 *st, i64 count, i64 *out) {{
    i64 b = -1;
    for (i64 i = 0; i < count; i++) {{
        i64 srv = fwrr_next(t, tc, st);
        b = account_at(t, tc, srv >= 0 ? t[ROW({SLOT}) + srv] : -1);
        out[i] = b;
    }}
    return b;
}}
"""

CONSTANTS = dict(
    F_OVERLOAD=T.F_OVERLOAD, ACTIVE=T.ACTIVE, INACTIVE=T.INACTIVE, U_THRESHOLD=T.U_THRESHOLD, FLAGS=T.FLAGS,
    BACKEND=T.BACKEND, WEIGHT=T.WEIGHT, SLOT=T.SLOT, T_HEADER=T.HEADER, LISTED=T.LISTED,
    N_CAP=NC.CAP, N_HEADER=NC.HEADER, N_ID_ROWS=NC.N_ID_ROWS, S_CW=NC.S_CW, S_EW=NC.S_EW, S_FAILS=NC.S_FAILS,
    S_CHECKED=NC.S_CHECKED, S_BACKUP=NC.S_BACKUP, S_MAX_FAILS=NC.S_MAX_FAILS,
    S_FAIL_TIMEOUT=NC.S_FAIL_TIMEOUT,
    NPRIM=NC.NPRIM, NBACK=NC.NBACK, CLEAN=NC.CLEAN, LIVE_TOTAL=NC.LIVE_TOTAL,
    H_HEADER=HC.HEADER, H_CAP=HC.CAP, ID_BACKUP=HC.ID_BACKUP, ID_POS=HC.ID_POS, ID_PRIO=HC.ID_PRIO,
    ID_KEY=HC.ID_KEY, ID_SEQ=HC.ID_SEQ, ID_TREE=HC.ID_TREE, ID_LINKED=HC.ID_LINKED, ID_NPOS=HC.ID_NPOS,
    ID_LPOS=HC.ID_LPOS, ID_RWEIGHT=HC.ID_RWEIGHT, ID_EW=HC.ID_EW, ID_STEP=HC.ID_STEP, ID_REM=HC.ID_REM,
    ID_NEXT_FULL=HC.ID_NEXT_FULL, REGION_AT=HC.REGION_AT, HSIZE=HH.HSIZE, SEQ=HC.SEQ, NO_TREE=HC.NO_TREE,
    CURR=HC.CURR, EW_MAX=HC.SRV_EWGHT_MAX, SRV_ACT=HC.SRV_ACT, SRV_BCK=HC.SRV_BCK, FBCK=HC.FBCK,
    GROUPS=HR.GROUPS, CURR_POS=HR.CURR_POS, CURR_WEIGHT=HR.CURR_WEIGHT, NEXT_WEIGHT=HR.NEXT_WEIGHT,
    INIT=HR.INIT,
)
C_LOOPS = {"nginx-rr": "nginx_rr_loop", "haproxy-roundrobin": "haproxy_rr_loop"}
_P = ctypes.POINTER(ctypes.c_int64)


@pytest.fixture(scope="module")
def c_loops():
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    d = tempfile.mkdtemp()
    src, lib = os.path.join(d, "nh_loops.c"), os.path.join(d, "nh_loops.so")
    with open(src, "w") as f:
        f.write(C_SOURCE.format(**CONSTANTS))
    subprocess.run([cc, "-O2", "-shared", "-fPIC", src, "-o", lib], check=True)
    return ctypes.CDLL(lib)


class _CRun:
    """A C loop on copies of a scheduler's table and state (the C side writes them)."""

    def __init__(self, c_loops, name, s):
        self.fn = getattr(c_loops, C_LOOPS[name])
        self.fn.restype = ctypes.c_int64
        self.table = s.pool.table.copy()
        self.state = s.state.copy()

    def __call__(self, out):
        return self.fn(self.table.ctypes.data_as(_P), ctypes.c_int64(self.table.shape[1]),
                       self.state.ctypes.data_as(_P), ctypes.c_int64(len(out)), out.ctypes.data_as(_P))


def _same_as_lbalgo(c_loops, name, count, **options):
    """Run C and lbalgo from the same fresh scheduler; assert the same decisions, table and state."""
    s = lbalgo.get(name)(weights=mixed_weights(N), **options)
    run = _CRun(c_loops, name, s)
    out = np.empty(count, dtype=np.int64)
    run(out)
    assert np.array_equal(out, s.pick_many(count))
    assert np.array_equal(run.table, s.pool.table) and np.array_equal(run.state, s.state)
    return out


@pytest.mark.parametrize("name", list(C_LOOPS))
def test_c(benchmark, c_loops, name):
    benchmark.group = f"nh-{name}"
    # The same work as lbalgo, on the benchmark's setup and on setups that take the other paths:
    # thresholds that fill servers (nginx: the general pass; HAProxy: servers set aside), backups.
    assert (_same_as_lbalgo(c_loops, name, BATCH // 4) >= 0).all()
    for seed in range(3):
        upper = np.random.default_rng(seed).integers(0, 30, size=N).tolist()
        _same_as_lbalgo(c_loops, name, 40 * N, u_thresholds=upper)
    backup = [i % 7 == 0 for i in range(N)]
    out = _same_as_lbalgo(c_loops, name, 20 * N, backup=backup)
    assert (out >= 0).all()
    run = _CRun(c_loops, name, _fresh(name))
    out = np.empty(BATCH, dtype=np.int64)
    run(out)  # as for lbalgo: the first round continues from a warm-up
    benchmark(run, out)
    assert (out >= 0).all() and run.table[T.ACTIVE].sum() >= 2 * BATCH
    ns = ns_per(benchmark, BATCH, "min")
    benchmark.extra_info.update(impl="C gcc -O2", n_backends=N, decisions=BATCH, ns_per_decision=ns)
    paired(("nh", name), "C gcc -O2", ns, benchmark.extra_info, C_RATIO)
