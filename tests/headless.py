"""Drive a headless Chromium over the DevTools protocol, for the HTML report tests.

The browser is Debian's ``chromium`` (``.ci/run`` installs it; any Chromium
or Chrome named by ``$LBALGO_CHROMIUM`` or found on ``PATH`` works), started
with its own throw-away profile and ``--remote-debugging-port=0``; the port
it picked is read from ``DevToolsActivePort`` in the profile. Only
``websocket-client`` is needed on the Python side.

A :class:`Page` records, from the moment it is created, every console
message of level error, every uncaught exception, every browser log entry of
level error, and every network request the page makes.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--mute-audio",
    "--hide-scrollbars",
]


def find_chromium() -> str | None:
    """Find the browser: ``$LBALGO_CHROMIUM``, else chromium, chromium-browser or google-chrome on PATH."""
    env = os.environ.get("LBALGO_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    """A headless browser process and a DevTools connection to it (use as a context manager)."""

    def __init__(self, binary: str, timeout: float = 60.0) -> None:
        import websocket

        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="lbalgo-chromium-")
        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while True:
            if port_file.exists():
                lines = port_file.read_text().split()
                if len(lines) >= 2:
                    break
            if self.proc.poll() is not None:
                self.close()
                raise RuntimeError(
                    f"{binary} exited with code {self.proc.returncode} before DevTools started"
                )
            if time.monotonic() > deadline:
                self.close()
                raise TimeoutError(f"{binary} did not start DevTools within {timeout} s")
            time.sleep(0.05)
        port, path = lines[0], lines[1]
        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{port}{path}", timeout=timeout, suppress_origin=True
        )
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        """Call a DevTools method and wait for its answer (events that arrive meanwhile are kept)."""
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)
        raise TimeoutError(f"no answer to {method} within {self.timeout} s")

    def wait_for(self, method: str, session: str) -> dict[str, Any]:
        """Wait for (and return) the next event ``method`` of ``session``, among those received first."""
        deadline = time.monotonic() + self.timeout
        seen = 0
        while time.monotonic() < deadline:
            for event in self.events[seen:]:
                if event.get("method") == method and event.get("sessionId") == session:
                    return event
            seen = len(self.events)
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(f"no {method} within {self.timeout} s")

    def open(self, url: str, width: int = 1280, height: int = 900) -> "Page":
        """A new tab, with console, log and network recording on, loaded with ``url``."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session,
        )
        page = Page(self, session, len(self.events))
        self.send("Page.navigate", {"url": url}, session)
        self.wait_for("Page.loadEventFired", session)
        return page

    def close(self) -> None:
        """Close the connection, end the browser and delete its profile."""
        ws = getattr(self, "ws", None)
        if ws is not None:
            try:
                self.send("Browser.close")
            except Exception:  # the browser may be gone already
                pass
            ws.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Page:
    """One tab: run JavaScript in it, take screenshots, read what it logged and requested."""

    def __init__(self, browser: Chromium, session: str, start: int) -> None:
        self.browser, self.session, self.start = browser, session, start

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (JSON-able values only); raises on a JavaScript exception."""
        out = self.browser.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            self.session,
        )
        if "exceptionDetails" in out:
            raise RuntimeError(f"JavaScript error in {expression!r}: {out['exceptionDetails']}")
        return out["result"].get("value")

    def screenshot(self, full_page: bool = False) -> bytes:
        """A PNG of the viewport (or of the whole page)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            size = self.browser.send("Page.getLayoutMetrics", session=self.session)["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        return base64.b64decode(self.browser.send("Page.captureScreenshot", params, self.session)["data"])

    def _events(self, method: str) -> list[dict[str, Any]]:
        return [
            e["params"]
            for e in self.browser.events
            if e.get("sessionId") == self.session and e.get("method") == method
        ]

    def errors(self) -> list[str]:
        """Console errors and assertions, uncaught exceptions and browser log errors, as text."""
        self.evaluate("0")  # a round trip, so that events sent before it have arrived
        out = []
        for p in self._events("Runtime.consoleAPICalled"):
            if p.get("type") in ("error", "assert"):
                out.append(
                    "console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
                )
        for p in self._events("Runtime.exceptionThrown"):
            d = p["exceptionDetails"]
            out.append("exception: " + str(d.get("exception", {}).get("description", d.get("text"))))
        for p in self._events("Log.entryAdded"):
            if p["entry"].get("level") == "error":
                out.append(
                    f"log ({p['entry'].get('source')}): {p['entry'].get('text')} {p['entry'].get('url', '')}"
                )
        return out

    def requests(self) -> list[str]:
        """URLs of every request the page made (the document's own ``file://`` URL included)."""
        self.evaluate("0")
        return [p["request"]["url"] for p in self._events("Network.requestWillBeSent")]
