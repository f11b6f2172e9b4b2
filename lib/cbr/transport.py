"""The one `requests.Session` the CBR client uses, and the offline replay transport.

`CBR_ENDPOINT=file://DIR` mounts `ReplayAdapter` on `file://`, so replayed responses are real
`requests.Response` objects that go through the same status mapping, parsing and retry code as
responses from the API.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from requests.structures import CaseInsensitiveDict

from lib import __version__
from lib.cbr.replay import answer_list, lists_root
from lib.core.ids import ID_PATTERN

USER_AGENT = f"oplog-lake/{__version__}"
_OPERATION_LOG_PATH = re.compile(r"/v3/([^/?#]+)/operation-logs/([^/?#]+)\Z")
NOT_FOUND_BODY = b'{"error_code":"BackupService.6500","error_msg":"Operation log does not exist."}'


def build_session(pool_size: int, replay_dir: str | None = None) -> requests.Session:
    """A session with TLS verification on, no automatic retries and a pool for every worker."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if replay_dir is not None:
        session.mount("file://", ReplayAdapter(Path(replay_dir)))
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
    session.verify = True
    return session


class ReplayAdapter(BaseAdapter):
    """Answers `GET .../v3/{project}/operation-logs/{id}` from `{root}/{id}.json`, like the API,
    and the inventory's list APIs from the files `lib.cbr.replay` describes."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.lists = lists_root(root)

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: object
    ) -> requests.Response:
        match = _OPERATION_LOG_PATH.search(request.url or "")
        try:
            listed = answer_list(self.lists, request.url or "") if request.method == "GET" else None
        except OSError as exc:
            raise requests.exceptions.ConnectionError(f"cannot read replay file: {exc}") from exc
        if listed is not None:
            return self._response(request, *listed)
        if request.method != "GET" or match is None or not ID_PATTERN.fullmatch(match[2]):
            body = b'{"error_code":"APIGW.0101","error_msg":"The API does not exist."}'
            return self._response(request, 404, body)
        try:
            body = (self.root / f"{match[2]}.json").read_bytes()
        except FileNotFoundError:
            return self._response(request, 404, NOT_FOUND_BODY)
        except OSError as exc:
            raise requests.exceptions.ConnectionError(f"cannot read replay file: {exc}") from exc
        return self._response(request, 200, body)

    def close(self) -> None:
        pass

    @staticmethod
    def _response(request: requests.PreparedRequest, status: int, body: bytes) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response.reason = {200: "OK", 400: "Bad Request"}.get(status, "Not Found")
        response.headers = CaseInsensitiveDict(
            {"Content-Type": "application/json", "Content-Length": str(len(body))}
        )
        response.raw = io.BytesIO(body)
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response
