"""A fake Huawei Cloud CBR ShowOpLog API and IAM password-token endpoint, served over real HTTP.

Only ``GET /v3/{project_id}/operation-logs/{id}`` (ShowOpLog),
``GET /v3/{project_id}/operation-logs`` (ListOpLogs: time window, filters, limit/offset paging,
newest first; served by `fakelist.ListServer`, whose modes make it as unkind as a real API) and
``POST /v3/auth/tokens`` exist; every other path or method answers like the API gateway does for an
unknown API (404 APIGW.0101).
Response shapes follow the public CBR and IAM API documentation.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import secrets
import socket
import struct
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, quote

from fakelist import ListServer

JsonBody = bytes | str | dict | list | None

TOKENS_PATH = "/v3/auth/tokens"
SIGNING_ALGORITHM = "SDK-HMAC-SHA256"
AUTHORIZATION = re.compile(
    r"SDK-HMAC-SHA256 Access=(?P<access>[^,\s]+), SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})"
)
OPERATION_LOG_PATH = re.compile(r"/v3/(?P<project_id>[^/]+)/operation-logs/(?P<log_id>[^/]+)")
LIST_PATH = re.compile(r"/v3/(?P<project_id>[^/]+)/operation-logs")
LIST_SCRIPT = "(list)"  # script() key for ListOpLogs answers
PROJECT_NAME = "ap-southeast-1"
JSON_CONTENT_TYPE = "application/json;charset=UTF-8"

API_NOT_FOUND = {
    "error_code": "APIGW.0101",
    "error_msg": "The API does not exist or has not been published in the environment",
}
THROTTLED = {
    "error_code": "APIGW.0308",
    "error_msg": "The throttling threshold has been reached: policy user over ratelimit,"
    "limit:200,time:1 second",
}
LOG_NOT_FOUND = {"error_code": "BackupService.6500", "error_msg": "Operation log does not exist."}
AUTH_PREFIX = "Incorrect IAM authentication information: "
TOKEN_EXPIRED = "token expires"
TOKEN_MISSING = "x-auth-token not found"
WRONG_PASSWORD = {
    "error": {"code": 401, "message": "The username or password is wrong.", "title": "Unauthorized"}
}
BAD_TOKEN_REQUEST = {
    "error": {"code": 400, "message": "The request body is invalid.", "title": "Bad Request"}
}


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    body: JsonBody = None  # dict/list -> JSON-encoded; str -> utf-8; None -> empty
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to sleep before answering, on top of FakeCBR.latency
    cut_after: int | None = None  # send the full Content-Length but only this many body bytes
    reset: bool = False  # close the connection without any response
    passthrough: bool = False  # after the delay, answer as if nothing were scripted


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # raw request path incl. query string, exactly as received
    headers: dict[str, str]  # header names lower-cased
    body: bytes
    at: float  # time.monotonic() when received


@dataclass
class IssuedToken:
    value: str
    project_id: str
    expires: float  # time.monotonic() deadline
    revoked: bool = False


@dataclass(frozen=True)
class PasswordAuth:
    user: str
    password: str
    domain: str
    project_id: str


def encode_body(body: JsonBody) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def path_only(raw_path: str) -> str:
    # Not urlsplit: it would read a leading "//" as a network location.
    return raw_path.split("?", 1)[0]


def iam_time(moment: datetime) -> str:
    """IAM's format, millisecond precision written as microseconds: 2026-01-04T09:05:22.701000Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}000Z"


def parse_password_auth(body: bytes) -> PasswordAuth | None:
    """The password-token request of cbr-api.md §5.2, or None when it is malformed."""
    try:
        auth = json.loads(body)["auth"]
        identity = auth["identity"]
        user = identity["password"]["user"]
        fields = (
            user["name"],
            user["password"],
            user["domain"]["name"],
            auth["scope"]["project"]["id"],
        )
        methods = identity["methods"]
    except (ValueError, KeyError, TypeError):
        return None
    if methods != ["password"] or not all(isinstance(value, str) and value for value in fields):
        return None
    return PasswordAuth(*fields)


def auth_error(reason: str) -> Reply:
    return Reply(401, {"error_code": "APIGW.0301", "error_msg": AUTH_PREFIX + reason})


class FakeCBR:
    """The fake service; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        static_token: str | None = None,
        require_auth: bool = False,
        iam_users: Iterable[tuple[str, str, str]] | None = None,
        token_ttl: float = 86400.0,
        omit_expires_at: bool = False,
        access_keys: dict[str, str] | None = None,
        port: int = 0,  # on 127.0.0.1; 0: any free port
    ) -> None:
        self.port = port
        self.access_keys: dict[str, str] = dict(access_keys or {})  # AK -> SK accepted
        self.max_clock_skew_s = 15 * 60
        self.rate_cap: float | None = None  # CBR GETs per second, like the API gateway's limit
        self.throttled = 0  # GETs answered 429 because of rate_cap
        self._window = (0, 0)  # (second, requests counted in it)
        self.latency = latency
        self.static_token = static_token
        self.require_auth = require_auth
        self.iam_users: set[tuple[str, str, str]] = set(iam_users or ())
        self.token_ttl = token_ttl
        self.omit_expires_at = omit_expires_at
        self.iam_script: list[Reply] = []
        self.issued_tokens: list[str] = []
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stored: dict[str, bytes] = {}
        self._listed: dict[str, dict[str, Any]] = {}  # what ListOpLogs shows, parsed once
        self._scripts: dict[str, deque[Reply]] = {}
        self.on_list: Callable[[int], None] | None = None  # called with the list request count
        self.listing = ListServer()  # ListOpLogs; set `fake.listing.mode` to make it unkind
        self.inventory: Any = None  # tests/fake_inventory.py's FakeInventory, once installed
        self._list_requests = 0
        self._tokens: dict[str, IssuedToken] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeCBR is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("FakeCBR is already started")
        self._server = _Server(self)
        # A short poll interval keeps stop() prompt; shutdown() waits for one poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fakecbr",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        server.server_close()
        server.drop_connections()
        thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # Test set-up

    def add_log(self, operation_log: dict[str, Any]) -> None:
        """Serve {"operation_log": operation_log} for its id (a snapshot, taken now)."""
        self.add_body(operation_log["id"], {"operation_log": operation_log})

    def add_body(self, operation_log_id: str, body: bytes | str | dict | list) -> None:
        """Serve an arbitrary 200 body for that id; replaces any log stored for it."""
        encoded = encode_body(body)
        listed = _listed_log(encoded)
        with self._lock:
            self._stored[operation_log_id] = encoded
            if listed is None:
                self._listed.pop(operation_log_id, None)
            else:
                self._listed[operation_log_id] = listed

    def script(self, operation_log_id: str, *replies: Reply) -> None:
        """Queue replies for that id's next requests, after any still queued."""
        with self._lock:
            self._scripts.setdefault(operation_log_id, deque()).extend(replies)

    def revoke_tokens(self) -> None:
        with self._lock:
            for token in self._tokens.values():
                token.revoked = True

    # Inspection

    def cbr_requests(self, operation_log_id: str | None = None) -> list[RecordedRequest]:
        return [
            request
            for request in list(self.requests)
            if request.method == "GET"
            and (match := OPERATION_LOG_PATH.fullmatch(path_only(request.path)))
            and operation_log_id in (None, match["log_id"])
        ]

    def list_requests(self) -> list[RecordedRequest]:
        return [
            request
            for request in list(self.requests)
            if request.method == "GET" and LIST_PATH.fullmatch(path_only(request.path))
        ]

    def token_requests(self) -> list[RecordedRequest]:
        return [
            request
            for request in list(self.requests)
            if request.method == "POST" and path_only(request.path) == TOKENS_PATH
        ]

    # Request handling (called from server threads)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _answer(self, request: RecordedRequest) -> Reply:
        path = path_only(request.path)
        if request.method == "POST" and path == TOKENS_PATH:
            return self._answer_token_request(request.body)
        match = OPERATION_LOG_PATH.fullmatch(path)
        listing = LIST_PATH.fullmatch(path)
        inventory = self.inventory.match(path) if self.inventory is not None else None
        if request.method != "GET" or not (match or listing or inventory):
            return Reply(404, API_NOT_FOUND)
        if self._over_rate_cap():
            return Reply(429, THROTTLED, {"Retry-After": "1"})
        project_id = (match or listing or inventory)["project_id"]  # type: ignore[index]
        if request.headers.get("authorization", "").startswith(SIGNING_ALGORITHM):
            if reason := self._signature_failure(request):
                return auth_error(reason)
        elif reason := self._auth_failure(request.headers.get("x-auth-token"), project_id):
            return auth_error(reason)
        if listing:
            return self._answer_list_request(project_id, request.path.partition("?")[2])
        if inventory:
            return self.inventory.answer(inventory, request.path.partition("?")[2])
        return self._answer_log_request(match["log_id"])  # type: ignore[index]

    def _over_rate_cap(self) -> bool:
        """Count this request in its one-second window; True when the window is already full."""
        if self.rate_cap is None:
            return False
        with self._lock:
            second = int(time.monotonic())
            start, count = self._window
            count = count + 1 if start == second else 1
            self._window = (second, count)
            if count > self.rate_cap:
                self.throttled += 1
                return True
        return False

    def _answer_log_request(self, log_id: str) -> Reply:
        with self._lock:
            queued = self._scripts.get(log_id)
            scripted = queued.popleft() if queued else None
            stored = self._stored.get(log_id)
        unscripted = Reply(200, stored) if stored is not None else Reply(404, LOG_NOT_FOUND)
        return self._apply_script(scripted, unscripted)

    def _answer_list_request(self, project_id: str, query: str) -> Reply:
        """ListOpLogs, as `self.listing` serves it (tidy unless its mode says otherwise)."""
        with self._lock:
            self._list_requests += 1
            number = self._list_requests
            queued = self._scripts.get(LIST_SCRIPT)
            scripted = queued.popleft() if queued else None
        if self.on_list is not None:
            self.on_list(number)
        params = dict(parse_qsl(query, keep_blank_values=True))
        status, body = self.listing.answer(project_id, params, self._stored_logs(), number)
        return self._apply_script(scripted, Reply(status, body))

    def _stored_logs(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._listed.values())

    def _auth_failure(self, token: str | None, project_id: str) -> str | None:
        """Why the token is refused, or None.

        Without require_auth, a missing or unknown token passes, but a token this fake issued and
        knows to be revoked, expired or scoped elsewhere is still refused.
        """
        if not token:
            return TOKEN_MISSING if self.require_auth else None
        if self.static_token is not None and token == self.static_token:
            return None
        with self._lock:
            issued = self._tokens.get(token)
        if issued is None:
            return TOKEN_EXPIRED if self.require_auth else None
        usable = (
            not issued.revoked
            and time.monotonic() < issued.expires
            and issued.project_id == project_id
        )
        return None if usable else TOKEN_EXPIRED

    def _signature_failure(self, request: RecordedRequest) -> str | None:
        """Check an SDK-HMAC-SHA256 signature the way the API gateway does; None when good."""
        found = AUTHORIZATION.fullmatch(request.headers.get("authorization", ""))
        if found is None:
            return "malformed Authorization header"
        secret = self.access_keys.get(found["access"])
        if secret is None:
            return "unknown access key"
        sdk_date = request.headers.get("x-sdk-date", "")
        try:
            signed_at = datetime.strptime(sdk_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            return "bad X-Sdk-Date"
        if abs((datetime.now(UTC) - signed_at).total_seconds()) > self.max_clock_skew_s:
            return "request expired (clock skew)"
        names = found["signed"].split(";")
        if any(name not in request.headers for name in names):
            return "a signed header is missing"
        path, _, query = request.path.partition("?")
        pairs = sorted(
            (quote(k, safe="~"), quote(v, safe="~"))
            for k, v in parse_qsl(query, keep_blank_values=True)
        )
        lines = [
            request.method,
            path if path.endswith("/") else path + "/",
            "&".join(f"{k}={v}" for k, v in pairs),
            "".join(f"{name}:{request.headers[name].strip()}\n" for name in names),
            found["signed"],
            hashlib.sha256(request.body).hexdigest(),
        ]
        digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
        to_sign = f"{SIGNING_ALGORITHM}\n{sdk_date}\n{digest}".encode()
        expected = hmac.new(secret.encode(), to_sign, hashlib.sha256).hexdigest()
        return None if hmac.compare_digest(expected, found["signature"]) else "signature mismatch"

    def _answer_token_request(self, body: bytes) -> Reply:
        with self._lock:
            scripted = self.iam_script.pop(0) if self.iam_script else None
        if scripted and not scripted.passthrough:
            return scripted
        auth = parse_password_auth(body)
        if auth is None:
            unscripted = Reply(400, BAD_TOKEN_REQUEST)
        elif (auth.user, auth.password, auth.domain) not in self.iam_users:
            unscripted = Reply(401, WRONG_PASSWORD)
        else:
            unscripted = self._issue_token(auth)
        return self._apply_script(scripted, unscripted)

    def _issue_token(self, auth: PasswordAuth) -> Reply:
        value = "fake-token-" + secrets.token_hex(16)
        now = datetime.now(UTC)
        with self._lock:
            self._tokens[value] = IssuedToken(
                value, auth.project_id, time.monotonic() + self.token_ttl
            )
            self.issued_tokens.append(value)
        return Reply(201, self._token_body(auth, now), headers={"X-Subject-Token": value})

    def _token_body(self, auth: PasswordAuth, now: datetime) -> dict[str, Any]:
        domain = {"id": f"domain-id-{auth.domain}", "name": auth.domain}
        token: dict[str, Any] = {
            "expires_at": iam_time(now + timedelta(seconds=self.token_ttl)),
            "issued_at": iam_time(now),
            "methods": ["password"],
            "catalog": [],
            "roles": [],
            "project": {"id": auth.project_id, "name": PROJECT_NAME, "domain": domain},
            "user": {
                "id": f"user-id-{auth.user}",
                "name": auth.user,
                "domain": domain,
                "password_expires_at": "",
            },
        }
        if self.omit_expires_at:
            del token["expires_at"]
        return {"token": token}

    @staticmethod
    def _apply_script(scripted: Reply | None, unscripted: Reply) -> Reply:
        if scripted is None:
            return unscripted
        if scripted.passthrough:
            return replace(unscripted, delay=scripted.delay)
        return scripted


def _listed_log(body: bytes) -> dict[str, Any] | None:
    """The operation_log a stored body holds, as ListOpLogs would show it (None: not a log)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # a hostile body is served by ID only
        return None
    if isinstance(document, dict) and isinstance(document.get("operation_log"), dict):
        return document["operation_log"]
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # server_close() must not wait for idle keep-alive connections
    request_queue_size = 128

    def __init__(self, fake: FakeCBR) -> None:
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", fake.port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would do a reverse DNS lookup (getfqdn), which can be slow.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def drop_connections(self) -> None:
        """Wake handler threads blocked on idle keep-alive connections so they exit."""
        with self._connections_lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that give up (timeouts, resets) are expected; real bugs still print.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # otherwise small responses stall on delayed ACKs
    server: _Server

    def version_string(self) -> str:
        return "APIG"  # keep the Python version out of the Server header

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        self.server.untrack(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle_any_method(self) -> None:
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self._read_body(),
            at=time.monotonic(),
        )
        fake = self.server.fake
        fake._record(request)
        reply = fake._answer(request)
        time.sleep(fake.latency + reply.delay)
        if reply.reset:
            self._reset_connection()
        else:
            self._send(reply)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any_method

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked_body()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked_body(self) -> bytes:
        chunks = []
        while size := int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # CRLF after the chunk
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
            pass
        return b"".join(chunks)

    def _send(self, reply: Reply) -> None:
        body = encode_body(reply.body)
        self.send_response(reply.status)
        for name, value in self._response_headers(reply, len(body)).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        if reply.cut_after is None:
            self.wfile.write(body)
            return
        self.wfile.write(body[: reply.cut_after])
        self.wfile.flush()
        self.close_connection = True  # the server then closes the socket normally (FIN)

    @staticmethod
    def _response_headers(reply: Reply, length: int) -> dict[str, str]:
        headers = {"X-Request-Id": uuid.uuid4().hex}
        if length:
            headers["Content-Type"] = JSON_CONTENT_TYPE
        custom = {name.lower() for name in reply.headers}
        headers = {name: value for name, value in headers.items() if name.lower() not in custom}
        headers.update(
            (name, value)
            for name, value in reply.headers.items()
            if name.lower() != "content-length"
        )
        headers["Content-Length"] = str(length)
        return headers

    def _reset_connection(self) -> None:
        # Linger 0 makes the close an RST rather than an orderly FIN.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()  # takes effect once finish() closes rfile/wfile
        self.close_connection = True
