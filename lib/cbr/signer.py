"""AK/SK request signing (SDK-HMAC-SHA256), as Huawei Cloud's API gateway verifies it.

CanonicalRequest = METHOD \\n CanonicalURI/ \\n CanonicalQuery \\n CanonicalHeaders \\n
                   SignedHeaders \\n hex(sha256(body))
StringToSign     = "SDK-HMAC-SHA256" \\n X-Sdk-Date \\n hex(sha256(CanonicalRequest))
Signature        = hex(hmac_sha256(key=SK, StringToSign))
Authorization    = SDK-HMAC-SHA256 Access=AK, SignedHeaders=..., Signature=...
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, urlsplit

import requests
from requests.auth import AuthBase

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
# The headers signed on every request; a fixed set, so proxies adding others break nothing.
SIGNED_HEADERS = ("content-type", "host", "x-project-id", "x-sdk-date")


def _encode(text: str) -> str:
    return quote(text, safe="~")  # RFC 3986: only A-Z a-z 0-9 - _ . ~ stay as they are


def canonical_uri(path: str) -> str:
    segments = [_encode(segment) for segment in path.split("/")]
    uri = "/".join(segments) or "/"
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(query: str) -> str:
    pairs = sorted((_encode(k), _encode(v)) for k, v in parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{k}={v}" for k, v in pairs)


def canonical_request(
    method: str, url: str, headers: Mapping[str, str], signed: tuple[str, ...], body: bytes
) -> str:
    parts = urlsplit(url)
    lowered = {k.lower(): v for k, v in headers.items()}
    header_lines = "".join(f"{name}:{lowered[name].strip()}\n" for name in signed)
    return "\n".join(
        [
            method.upper(),
            canonical_uri(parts.path),
            canonical_query(parts.query),
            header_lines,
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        ]
    )


def signature(secret_key: str, sdk_date: str, request_text: str) -> str:
    digest = hashlib.sha256(request_text.encode()).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{sdk_date}\n{digest}"
    return hmac.new(secret_key.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


class AkSkSigner(AuthBase):
    """A requests auth hook that signs each request for one project."""

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        project_id: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.access_key = access_key
        self._secret_key = secret_key
        self.project_id = project_id
        self._clock = clock

    def __repr__(self) -> str:
        return f"AkSkSigner(access_key={self.access_key!r}, project_id={self.project_id!r})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        url = request.url or ""
        sdk_date = self._clock().strftime(DATE_FORMAT)
        request.headers["Host"] = urlsplit(url).netloc
        request.headers["Content-Type"] = "application/json"
        request.headers["X-Project-Id"] = self.project_id
        request.headers["X-Sdk-Date"] = sdk_date
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        text = canonical_request(
            request.method or "GET", url, request.headers, SIGNED_HEADERS, body
        )
        request.headers["Authorization"] = (
            f"{ALGORITHM} Access={self.access_key}, SignedHeaders={';'.join(SIGNED_HEADERS)}, "
            f"Signature={signature(self._secret_key, sdk_date, text)}"
        )
        return request
