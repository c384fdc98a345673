"""Record how the real nginx and HAProxy balance, as fixtures lbalgo must reproduce.

Run as root on a Debian (bookworm) machine::

    python conformance/capture.py              # every scenario
    python conformance/capture.py nginx_rr     # the scenarios whose name starts so

The script installs ``nginx`` and ``haproxy`` from Debian's packages if they
are missing, starts small HTTP backends on 127.0.0.1:19001.. (in this
process), and for each scenario (:mod:`scenarios`) writes a configuration,
starts the proxy on 127.0.0.1:18080 with one worker / one thread, drives the
scenario's requests (client sockets bound to 127.x.y.z, URIs, headers, held
requests, runtime API commands) and records which backend got each request:
the backend logs the request id it received, and nginx's ``X-Upstream``
header ($upstream_addr) names the peer of a request that failed. Everything
listens on loopback, every loop is bounded, and every process it starts is
stopped before it moves on.

Each scenario becomes ``fixtures/<name>.json`` (program version, config,
the lbalgo scheduler and options that model it, the steps); the script then
replays the fixture through lbalgo and prints how many decisions match. For
``random`` in nginx it also finds the worker's ``srandom`` seed, ``(pid <<
16) ^ sec ^ msec`` of the worker's start, by trying the start times around
the one /proc reports.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import replay  # noqa: E402
import scenarios  # noqa: E402

PROXY_PORT = 18080
BACKEND_BASE = 19001
N_BACKENDS = 8
DEAD_BASE = 19101  # ports nothing listens on (backends that refuse connections)
TIMEOUT = 10.0


# -- installation ---------------------------------------------------------------------------------
def ensure_installed() -> dict[str, str]:
    """Install nginx and haproxy from Debian's packages if needed; return their version strings."""
    missing = [p for p in ("nginx", "haproxy")
               if shutil.which(p) is None and not os.path.exists(f"/usr/sbin/{p}")]
    if missing:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], check=True, env=env, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "nginx", "haproxy"],
                       check=True, env=env, timeout=1200)
    versions = {}
    out = subprocess.run(["nginx", "-v"], capture_output=True, text=True, timeout=30)
    versions["nginx"] = (out.stderr or out.stdout).strip().split(": ", 1)[-1]
    out = subprocess.run(["haproxy", "-v"], capture_output=True, text=True, timeout=30)
    versions["haproxy"] = out.stdout.splitlines()[0].strip()
    for pkg in ("nginx", "haproxy"):
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True, text=True,
                             timeout=30)
        versions[pkg] += f" (Debian package {out.stdout.strip()})"
    return versions


# -- backends ----------------------------------------------------------------------------------------
class Backends:
    """HTTP backends on 127.0.0.1:19001..: log each request's X-Req id, answer now or when released."""

    def __init__(self) -> None:
        self.received: dict[str, int] = {}  # request id -> backend port
        self.release: dict[str, asyncio.Event] = {}
        self.servers: list[asyncio.AbstractServer] = []

    async def start(self) -> None:
        """Listen on 127.0.0.1:19001 .. 19001 + N_BACKENDS - 1."""
        for i in range(N_BACKENDS):
            port = BACKEND_BASE + i
            self.servers.append(await asyncio.start_server(
                lambda r, w, port=port: self._serve(port, r, w), "127.0.0.1", port))

    async def stop(self) -> None:
        """Close every listener."""
        for s in self.servers:
            s.close()
            await s.wait_closed()

    async def _serve(self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                req = next((ln.split(":", 1)[1].strip() for ln in lines[1:]
                            if ln.lower().startswith("x-req:")), "")
                self.received[req] = port
                if path.startswith("/hold"):
                    event = self.release.setdefault(req, asyncio.Event())
                    await asyncio.wait_for(event.wait(), 120)
                body = str(port).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                             % (len(body), body))
                await writer.drain()
                break
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()


# -- proxies --------------------------------------------------------------------------------------------
def _wait_port(port: int, proc: subprocess.Popen, what: str) -> None:
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port}")


class Proxy:
    """A running nginx or HAProxy (foreground, one worker / one thread), stopped by :meth:`stop`."""

    def __init__(self, program: str, config: str, workdir: pathlib.Path) -> None:
        self.program = program
        self.workdir = workdir
        self.socket = workdir / "haproxy.sock"
        conf = workdir / ("nginx.conf" if program == "nginx" else "haproxy.cfg")
        conf.write_text(config)
        if program == "nginx":
            for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"):
                (workdir / d).mkdir(exist_ok=True)
            cmd = ["nginx", "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "error.log")]
        else:
            cmd = ["haproxy", "-f", str(conf), "-db"]
        self.log = open(workdir / "stderr.log", "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log)
        _wait_port(PROXY_PORT, self.proc, program)
        self.started = time.time()

    def worker(self) -> tuple[int, float]:
        """nginx: the worker's pid and its start time (epoch seconds, from /proc)."""
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    stat = pathlib.Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                fields = stat.rsplit(")", 1)[1].split()
                if int(fields[1]) == self.proc.pid:  # ppid
                    ticks = os.sysconf("SC_CLK_TCK")
                    btime = next(int(ln.split()[1]) for ln in open("/proc/stat") if ln.startswith("btime"))
                    return int(entry), btime + int(fields[19]) / ticks
            time.sleep(0.02)
        raise RuntimeError("no nginx worker found")

    def command(self, line: str) -> str:
        """HAProxy runtime API (stats socket)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(TIMEOUT)
            s.connect(str(self.socket))
            s.sendall(line.encode() + b"\n")
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        return out.decode()

    def served(self) -> int:
        """HAProxy: requests the backend's servers are serving now (sum of scur)."""
        rows = self.command("show stat").splitlines()
        header = rows[0].lstrip("# ").split(",")
        scur = header.index("scur")
        total = 0
        for row in rows[1:]:
            cols = row.split(",")
            if len(cols) > scur and cols[0] == "be" and cols[1] not in ("BACKEND", "FRONTEND"):
                total += int(cols[scur] or 0)
        return total

    def stop(self) -> None:
        """SIGTERM the proxy this object started (SIGKILL if it does not exit), and wait for it."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(TIMEOUT)
        self.log.close()


def nginx_config(workdir: pathlib.Path, balancer: str, servers: list[dict[str, Any]]) -> str:
    """nginx.conf for one upstream ``be`` in front of ``servers``."""
    lines = []
    for s in servers:
        params = "".join(f" {k}={v}" for k, v in s.get("params", {}).items())
        flags = "".join(f" {f}" for f in s.get("flags", ()))
        lines.append(f"        server {s['name']}{params}{flags};")
    upstream = (f"        {balancer};\n" if balancer else "") + "\n".join(lines)
    return f"""user root;
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/client_body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    upstream be {{
{upstream}
    }}
    server {{
        listen 127.0.0.1:{PROXY_PORT};
        location / {{
            proxy_pass http://be;
            proxy_next_upstream off;
            proxy_read_timeout 120s;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


def haproxy_config(workdir: pathlib.Path, balance: list[str], servers: list[dict[str, Any]]) -> str:
    """haproxy.cfg: frontend on the proxy port, backend ``be`` with ``balance`` lines and ``servers``."""
    lines = []
    for s in servers:
        extra = "".join(f" {k} {v}" for k, v in s.get("params", {}).items())
        extra += "".join(f" {f}" for f in s.get("flags", ()))
        lines.append(f"    server {s['id']} {s['name']}{extra}")
    return f"""global
    nbthread 1
    stats socket {workdir}/haproxy.sock level admin
defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout queue 10s
frontend fe
    bind 127.0.0.1:{PROXY_PORT}
    default_backend be
backend be
""" + "".join(f"    {b}\n" for b in balance) + "\n".join(lines) + "\n"


# -- the driver ---------------------------------------------------------------------------------------------
class Held:
    """A request the backend holds until released."""

    def __init__(self, req: str, backend: int, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.req, self.backend, self.reader, self.writer = req, backend, reader, writer


class Driver:
    """Sends a scenario's requests through the proxy and records the steps."""

    def __init__(self, scenario: dict[str, Any], backends: Backends, proxy: Proxy) -> None:
        self.scenario = scenario
        self.backends = backends
        self.proxy = proxy
        self.ports = [s["port"] for s in scenario["servers"]]
        self.steps: list[dict[str, Any]] = []
        self.counter = 0
        self.held = 0
        self.sync = scenario.get("sync_served", False)

    def index(self, port: int) -> int:
        """Return the backend index of a port."""
        return self.ports.index(port)

    async def _send(self, key: Any, client: str, path: str, headers: dict[str, str]) -> tuple[str, Any, Any]:
        self.counter += 1
        req = f"{self.scenario['name']}-{self.counter}"
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", PROXY_PORT, local_addr=(client, 0)), TIMEOUT)
        head = f"GET {path} HTTP/1.1\r\nHost: lbalgo.test\r\nX-Req: {req}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write((head + "Connection: close\r\n\r\n").encode())
        await writer.drain()
        return req, reader, writer

    async def _settle(self) -> None:
        """Wait until the proxy has let go of finished requests (its counters match the held ones)."""
        if self.sync:
            deadline = time.time() + TIMEOUT
            while self.proxy.served() != self.held:
                if time.time() > deadline:
                    raise RuntimeError("HAProxy still counts a finished request")
                await asyncio.sleep(0.002)
        else:
            await asyncio.sleep(0.002)

    async def pick(self, key: Any = None, *, client: str = "127.0.0.1", path: str = "/",
                   header: str | None = None, hold: bool = False, timed: bool = False) -> Any:
        """One request; returns the backend index, or a :class:`Held` request with ``hold=True``."""
        if timed:  # keep away from a second boundary: nginx counts whole seconds
            while not 0.1 <= time.time() % 1.0 <= 0.8:
                await asyncio.sleep(0.01)
        now = time.time()
        headers = {} if header is None else {self.scenario.get("header", "X-Key"): header}
        req, reader, writer = await self._send(key, client, ("/hold" if hold else "") + path, headers)
        step: dict[str, Any] = {"op": "pick", "key": key}
        if timed:
            step["now"] = now
        if hold:
            deadline = time.time() + TIMEOUT
            while req not in self.backends.received:
                if time.time() > deadline:
                    raise RuntimeError(f"held request {req} reached no backend")
                await asyncio.sleep(0.001)
            b = self.index(self.backends.received[req])
            step.update(backend=b, hold=True)
            self.steps.append(step)
            self.held += 1
            return Held(req, b, reader, writer)
        data = await asyncio.wait_for(reader.read(), TIMEOUT)
        writer.close()
        status = int(data.split(b" ", 2)[1])
        upstream = next((ln.split(b":", 1)[1].strip().decode() for ln in data.split(b"\r\n")
                         if ln.lower().startswith(b"x-upstream:")), "")
        if req in self.backends.received:
            b = self.index(self.backends.received[req])
        elif status >= 500 and upstream.startswith("127.0.0.1:"):
            b = self.index(int(upstream.rsplit(":", 1)[1]))  # the peer failed: connection refused
            step["failed"] = True
        else:
            b = -1
        step["backend"] = b
        self.steps.append(step)
        await self._settle()
        return b

    async def release(self, held: Held, *, timed: bool = False) -> None:
        """Let the backend answer a held request; wait for the answer and for the proxy to let go."""
        step: dict[str, Any] = {"op": "release", "backend": held.backend}
        if timed:
            step["now"] = time.time()
        self.backends.release.setdefault(held.req, asyncio.Event()).set()
        await asyncio.wait_for(held.reader.read(), TIMEOUT)
        held.writer.close()
        self.held -= 1
        self.steps.append(step)
        await self._settle()

    def set_weight(self, b: int, w: int) -> None:
        """HAProxy ``set weight be/<server> w``."""
        self.proxy.command(f"set weight be/{self.scenario['servers'][b]['id']} {w}")
        self.steps.append({"op": "set_weight", "backend": b, "weight": w})

    def add(self, server: dict[str, Any], options: dict[str, Any] | None = None) -> None:
        """HAProxy ``add server`` then ``enable server``; ``options``: lbalgo's ``add_backend`` keywords."""
        extra = "".join(f" {k} {v}" for k, v in server.get("params", {}).items())
        out = self.proxy.command(f"add server be/{server['id']} {server['name']}{extra}")
        if "New server registered" not in out:
            raise RuntimeError(f"add server failed: {out.strip()}")
        self.proxy.command(f"enable server be/{server['id']}")
        self.scenario["servers"].append(server)
        self.ports.append(server["port"])
        weight = int(server.get("params", {}).get("weight", 1))
        self.steps.append({"op": "add", "weight": weight, "options": options or {}})

    def remove(self, b: int) -> None:
        """HAProxy ``disable server`` then ``del server``."""
        name = self.scenario["servers"][b]["id"]
        self.proxy.command(f"disable server be/{name}")
        out = self.proxy.command(f"del server be/{name}")
        if "Server deleted" not in out:
            raise RuntimeError(f"del server failed: {out.strip()}")
        self.ports[b] = -1
        self.steps.append({"op": "remove", "backend": b})


async def run_scenario(scenario: dict[str, Any], backends: Backends,
                       versions: dict[str, str]) -> dict[str, Any]:
    """Start the proxy for one scenario, drive it, stop it; return the fixture."""
    program = scenario["program"]
    with tempfile.TemporaryDirectory(prefix="lbalgo-conformance-") as tmp:
        workdir = pathlib.Path(tmp)
        os.chmod(workdir, 0o755)
        servers = scenario["servers"]
        if program == "nginx":
            config = nginx_config(workdir, scenario["balancer"], servers)
        else:
            config = haproxy_config(workdir, scenario["balance"], servers)
        proxy = Proxy(program, config, workdir)
        try:
            worker = proxy.worker() if program == "nginx" else None
            driver = Driver(scenario, backends, proxy)
            await scenario["drive"](driver)
        finally:
            proxy.stop()
        fixture = {
            "program": program,
            "version": versions[program],
            "scenario": scenario["name"],
            "description": scenario["description"],
            "config": config.replace(str(workdir), "$WORKDIR"),
            "lbalgo": {"name": scenario["lbalgo"], "options": scenario["options"]},
            "steps": driver.steps,
        }
        if worker is not None and scenario.get("seed_search"):
            fixture["lbalgo"]["options"]["seed"] = find_seed(fixture, *worker)
            fixture["worker"] = {"pid": worker[0], "start": worker[1]}
        return fixture


def find_seed(fixture: dict[str, Any], pid: int, start: float) -> int:
    """Find the nginx worker's srandom seed: ``(pid << 16) ^ sec ^ msec`` for a start near ``start``."""
    for sec in (int(start), int(start) - 1, int(start) + 1, int(start) - 2, int(start) + 2):
        for msec in range(1000):
            seed = ((pid << 16) ^ sec ^ msec) & 0xFFFFFFFF
            ok = True
            for _, want, got in replay.decisions(fixture, replay.build(fixture, seed=seed)):
                if want != got:
                    ok = False
                    break
            if ok:
                return seed
    raise RuntimeError(f"no srandom seed reproduces {fixture['scenario']} (pid {pid}, start {start})")


async def main(prefixes: list[str]) -> int:
    """Capture the scenarios whose names start with one of ``prefixes`` (all without any)."""
    versions = ensure_installed()
    backends = Backends()
    await backends.start()
    total = bad_total = 0
    try:
        out = HERE / "fixtures"
        out.mkdir(exist_ok=True)
        for scenario in scenarios.SCENARIOS:
            if prefixes and not any(scenario["name"].startswith(p) for p in prefixes):
                continue
            fixture = await run_scenario(scenarios.fresh(scenario), backends, versions)
            (out / f"{scenario['name']}.json").write_text(json.dumps(fixture, indent=1) + "\n")
            n, bad = replay.replay(fixture)
            total += n
            bad_total += len(bad)
            first = f"  first: {bad[:3]}" if bad else ""
            print(f"{scenario['name']:<44} {n:5d} decisions, {len(bad)} differ{first}")
    finally:
        await backends.stop()
    print(f"total: {total} decisions, {bad_total} differ")
    return 1 if bad_total else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
