"""AK/SK signing against the published and CBR-shaped test vectors (no network)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import requests

from lib.cbr.signer import AkSkSigner, canonical_request, signature

AK, SK = "AKEXAMPLE0000000000", "SKEXAMPLE00000000000000000000000000000000"
PROJECT = "0123456789abcdef0123456789abcdef"
CBR = "https://cbr.ap-southeast-1.myhuaweicloud.com"


def test_public_signing_guide_example() -> None:
    text = canonical_request(
        "GET",
        "https://service.region.example.com/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs"
        "?limit=2&marker=13551d6b-755d-4757-b956-536f674975c0",
        {
            "Content-Type": "application/json",
            "Host": "service.region.example.com",
            "X-Sdk-Date": "20191115T033655Z",
        },
        ("content-type", "host", "x-sdk-date"),
        b"",
    )
    assert hashlib.sha256(text.encode()).hexdigest() == (
        "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a"
    )
    assert signature("MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc", "20191115T033655Z", text) == (
        "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
    )


def signed(url: str) -> requests.PreparedRequest:
    clock = lambda: datetime(2024, 1, 1, tzinfo=UTC)  # noqa: E731
    request = requests.Request("GET", url).prepare()
    return AkSkSigner(AK, SK, PROJECT, clock)(request)


def test_cbr_operation_log_request() -> None:
    request = signed(f"{CBR}/v3/{PROJECT}/operation-logs/4827f2da-b008-4507-ab7d-42d0df5ed912")
    assert request.headers["X-Sdk-Date"] == "20240101T000000Z"
    assert request.headers["X-Project-Id"] == PROJECT
    assert request.headers["Authorization"] == (
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
        "Signature=25c54b63bd076c5914c5c7ada949df7fdc9285587c44c09fc2658e0b87023ed0"
    )
    assert "X-Auth-Token" not in request.headers


def test_cbr_list_request_with_a_query() -> None:
    request = signed(
        f"{CBR}/v3/{PROJECT}/operation-logs?start_time=2024-01-01T00:00:00Z&limit=1000&offset=0"
    )
    assert request.headers["Authorization"].endswith(
        "Signature=7913d1e77b6fe5a8fe831629c5b51710674e11bc6308397abd5ee85a1634cbdf"
    )


def test_the_secret_key_is_not_in_the_repr() -> None:
    assert SK not in repr(AkSkSigner(AK, SK, PROJECT))
