"""Headless Chromium driven over the DevTools protocol on a pipe (no port, no network).

`--remote-debugging-pipe` makes Chromium read commands on fd 3 and answer on fd 4, each message
a JSON object ended by a NUL byte. Enough of the protocol to load a file, set the viewport or
the print media, measure the layout, take screenshots and print a PDF.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
A4_WIDTH_IN, A4_HEIGHT_IN = 8.27, 11.69
# Runs in the child: moves the two pipe ends to fds 3 and 4, where Chromium expects them (out of
# the way first, in case either already is 3 or 4), then becomes Chromium.
WIRING = """import fcntl, os, sys
ends = [fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:3]]
os.dup2(ends[0], 3)
os.dup2(ends[1], 4)
os.execv(sys.argv[3], sys.argv[3:])
"""


def chromium_binary() -> str:
    """Chromium ($CHROMIUM, else on the PATH); a test without it skips, but fails in CI
    (OPLOG_LAKE_CI=1, set by .ci/run), where a skipped browser test would hide a broken page."""
    binary = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(binary).is_file():
        missing = f"chromium not installed ({binary}): apt-get install chromium"
        if os.environ.get("OPLOG_LAKE_CI"):
            pytest.fail(f"{missing}; CI runs the browser tests (OPLOG_LAKE_CI is set)")
        pytest.skip(missing)
    return binary


def run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """One command-line run (`--print-to-pdf`, `--screenshot`, `--dump-dom`)."""
    command = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=True)


class Browser:
    """One page in a fresh Chromium profile, controlled through the DevTools pipe."""

    def __init__(self, profile: Path) -> None:
        commands_in, self._commands = os.pipe()
        self._answers, answers_out = os.pipe()
        browser = [
            chromium_binary(),
            *FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
        ]
        self.process = subprocess.Popen(
            [sys.executable, "-c", WIRING, str(commands_in), str(answers_out), *browser],
            pass_fds=(commands_in, answers_out),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(commands_in)
        os.close(answers_out)
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []
        try:
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
            attached = self.call("Target.attachToTarget", targetId=target, flatten=True)
            self.session = attached["sessionId"]
            self.page("Page.enable")
        except (OSError, RuntimeError):
            self.close()
            raise

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self._next:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def page(self, method: str, **params: Any) -> dict[str, Any]:
        return self.call(method, self.session, **params)

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._answers, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, url: str, width: int, height: int = 900) -> None:
        self.page(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=width < 600,
        )
        self.events.clear()
        self.page("Page.navigate", url=url)
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._read())

    def media(self, media: str) -> None:
        self.page("Emulation.setEmulatedMedia", media=media)

    def evaluate(self, expression: str) -> Any:
        result = self.page("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def screenshot(self) -> bytes:
        shot = self.page("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        return base64.b64decode(shot["data"])

    def pdf(self) -> bytes:
        printed = self.page(
            "Page.printToPDF",
            paperWidth=A4_WIDTH_IN,
            paperHeight=A4_HEIGHT_IN,
            printBackground=True,
            preferCSSPageSize=True,
        )
        return base64.b64decode(printed["data"])

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (OSError, RuntimeError):
            pass  # the pipe may close before the answer arrives, or was never open
        finally:
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
            os.close(self._commands)
            os.close(self._answers)
