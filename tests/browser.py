"""Headless Chromium driven over the DevTools protocol on a pipe (no extra packages).

``--remote-debugging-pipe`` makes Chromium read protocol commands from fd 3 and write answers and
events to fd 4, each a JSON message ended by a NUL byte. ``load_page`` opens a file, records
console messages, exceptions, log entries and every request the page makes, checks its images
and saves a full-page screenshot.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-pipe"]
WIDTH = 1100
_IMAGES = ("JSON.stringify([...document.images].map(i => ({alt: i.alt, complete: i.complete, "
           "width: i.naturalWidth})))")


def chromium() -> str | None:
    return shutil.which("chromium")


def _high(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class _Pipe:
    def __init__(self, user_data_dir: Path):
        commands_read, self._commands = os.pipe()
        self._events, events_write = os.pipe()
        # Above 9, so that the shell's 3<& / 4>& cannot overwrite one end with the other.
        commands_read, events_write = (_high(fd) for fd in (commands_read, events_write))
        # bash puts the pipe ends on fds 3 and 4, where Chromium expects them (dash cannot
        # redirect from fds above 9).
        self.process = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{commands_read} 4>&{events_write}', chromium(),
             *FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"],
            pass_fds=(commands_read, events_write), stdout=subprocess.DEVNULL,
            stderr=open(Path(user_data_dir).with_suffix(".log"), "wb"))
        os.close(commands_read)
        os.close(events_write)
        self.log = Path(user_data_dir).with_suffix(".log")
        self._buffer, self._next, self.events = b"", 0, []

    def _read(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._events, 1 << 20)
            if not chunk:
                raise RuntimeError(f"chromium closed the DevTools pipe: {self.log.read_text()}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: str | None = None, timeout: float = 60, **params):
        self._next += 1
        message = {"id": self._next, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read(timeout)
            if answer.get("id") == self._next:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            self.events.append(answer)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._read(timeout)
            self.events.append(event)
            if event.get("method") == method:
                return event

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._commands)
        os.close(self._events)


def load_page(page: Path, screenshot: Path, user_data_dir: Path) -> dict:
    """Open ``page``; return its images, console/log errors and requests; save a screenshot."""
    pipe = _Pipe(user_data_dir)
    try:
        target = pipe.call("Target.createTarget", url="about:blank")["targetId"]
        session = pipe.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            pipe.call(f"{domain}.enable", session)
        pipe.call("Emulation.setDeviceMetricsOverride", session, width=WIDTH, height=900,
                  deviceScaleFactor=1, mobile=False)
        pipe.call("Page.navigate", session, url=Path(page).resolve().as_uri())
        pipe.wait_for("Page.loadEventFired")
        images = json.loads(pipe.call("Runtime.evaluate", session, expression=_IMAGES,
                                      returnByValue=True)["result"]["value"])
        height = pipe.call("Runtime.evaluate", session, returnByValue=True,
                           expression="document.documentElement.scrollHeight")["result"]["value"]
        pipe.call("Emulation.setDeviceMetricsOverride", session, width=WIDTH, height=height,
                  deviceScaleFactor=1, mobile=False)
        shot = pipe.call("Page.captureScreenshot", session, format="png")["data"]
        Path(screenshot).write_bytes(base64.b64decode(shot))
    finally:
        pipe.close()
    events = pipe.events
    return {
        "images": images,
        "console": [e["params"] for e in events if e.get("method") == "Runtime.consoleAPICalled"
                    and e["params"]["type"] in ("error", "warning", "assert")],
        "exceptions": [e["params"] for e in events if e.get("method") == "Runtime.exceptionThrown"],
        "log_errors": [e["params"]["entry"] for e in events if e.get("method") == "Log.entryAdded"
                       and e["params"]["entry"]["level"] in ("error", "warning")],
        "requests": [e["params"]["request"]["url"] for e in events
                     if e.get("method") == "Network.requestWillBeSent"],
        "failed": [e["params"] for e in events if e.get("method") == "Network.loadingFailed"],
    }
