"""A CBR that sends its answer one byte at a time, and work longer than the budget."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from pathlib import Path
from typing import Literal

import pytest

from lib.core.settings import Settings

from conftest import (
    Context,
    make_app,
    read_rows,
    sqs_event,
)
from fakecbr import FakeCBR, Reply
from faultkit import (
    LOGS,
    SEED_ID,
    always,
    check,
    log_body,
    run_with_budget,
    timed,
)

# A CBR that sends its answer one byte at a time


class DripServer:
    """Answers every request 200, one byte every `every_s`: the head, or the body after it.

    `sized`: the head at once, then the body of its Content-Length byte by byte.
    `chunked`: the head at once, then the body as one-byte chunks.
    `headers`: the status line and headers themselves byte by byte.
    """

    def __init__(
        self, body: bytes, mode: Literal["sized", "chunked", "headers"], every_s: float = 0.2
    ) -> None:
        self.body, self.mode, self.every_s = body, mode, every_s
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self.requests = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> DripServer:
        threading.Thread(target=self._accept, name="drip", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop dripping and drop every connection (the client sees the body cut short)."""
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._connections.append(connection)
                self.requests += 1
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError), connection:
            connection.settimeout(5)
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                received += chunk
            framing = (
                "Transfer-Encoding: chunked"
                if self.mode == "chunked"
                else f"Content-Length: {len(self.body)}"
            )
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
            if self.mode == "headers":
                self._drip(connection, [bytes([b]) for b in head.encode()])
                connection.sendall(self.body)
            elif self.mode == "chunked":
                connection.sendall(head.encode())
                self._drip(connection, [b"1\r\n" + bytes([b]) + b"\r\n" for b in self.body])
                connection.sendall(b"0\r\n\r\n")
            else:
                connection.sendall(head.encode())
                self._drip(connection, [bytes([b]) for b in self.body])

    def _drip(self, connection: socket.socket, pieces: list[bytes]) -> None:
        for piece in pieces:
            if self._stop.wait(self.every_s):
                raise OSError("stopped")
            connection.sendall(piece)


DRIP_BUDGET_S = 5.5  # the safety margin is 5 s: 0.5 s of work, so reads time out after 0.5 s


@pytest.mark.parametrize(
    "mode",
    [
        "chunked",
        "sized",
        "headers",
    ],
)
def test_a_drip_fed_answer_is_abandoned_when_the_budget_runs_out(
    settings: Settings, lake: Path, mode: Literal["sized", "chunked", "headers"]
) -> None:
    with DripServer(json.dumps(log_body(SEED_ID)).encode(), mode) as drip:
        app = make_app(settings, cbr_endpoint=drip.base_url)
        event = sqs_event(SEED_ID)
        run = run_with_budget(app, event, DRIP_BUDGET_S, drip.stop)
    assert run.in_time, f"the handler was still running {DRIP_BUDGET_S} s into its budget"
    assert run.response is not None
    check(event, run.response, lake, ["m0"])
    assert drip.requests == 1


# Time


def test_work_longer_than_the_budget_is_left_for_redelivery(
    served: FakeCBR, settings: Settings, lake: Path
) -> None:
    slow = sorted(LOGS)[:3]
    for log_id in slow:
        served.script(log_id, *always(Reply(delay=20)))
    quick = sorted(LOGS)[3:8]
    event = sqs_event(*slow, *quick, json.dumps([quick[0], slow[0]]))
    budget = 7.5  # the safety margin is 5 s, so 2.5 s of work

    response, elapsed = timed(make_app(settings), event, Context(budget_s=budget))

    assert elapsed < budget  # inside the budget (the margin absorbs a slow machine)
    check(event, response, lake, ["m0", "m1", "m2", "m8"])
    assert sorted(r["id"] for r in read_rows(lake)) == sorted(quick)
    for log_id in slow:
        assert len(served.cbr_requests(log_id)) == 1
