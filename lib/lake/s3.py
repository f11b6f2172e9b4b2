"""The S3 (or S3-compatible: OBS, MinIO) backend of the lake's ObjectStore port.

Objects go up through boto3's managed transfer: one request with a checksum the store verifies,
or, above `MULTIPART_THRESHOLD`, a multipart upload that only becomes visible when completed.
boto3's own errors are translated here into SinkError sentences that name the setting to check.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from lib.core.errors import ObjectMissing, SinkError
from lib.core.settings import LAKE_URI, LakeLocation
from lib.lake.objects import Versioned

if TYPE_CHECKING:
    import pyarrow.fs

MULTIPART_THRESHOLD = 64 * 1024 * 1024
PART_SIZE = 16 * 1024 * 1024
SSE_NONE = "none"
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_S3"  # boto3's own override, named in errors
_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=60
)


def split_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` (checked by the settings) -> ("bucket", "some/prefix")."""
    parts = urlsplit(uri)
    return parts.netloc, parts.path.strip("/")


class S3Store:
    """Objects under `s3://bucket/prefix`, through one boto3 client kept for the process."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        *,
        sse: str = "AES256",
        kms_key_id: str | None = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        part_size: int = PART_SIZE,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.uri = f"s3://{bucket}/{prefix}".rstrip("/")
        # One request for small objects; larger ones as a multipart upload that becomes
        # visible only when complete and is aborted on failure. Either way the store checks
        # a checksum of what it received.
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=part_size,
            use_threads=False,  # no pool left running past the call
        )
        self._extra: dict[str, str] = {"ChecksumAlgorithm": "CRC32"}
        if sse != SSE_NONE:
            self._extra["ServerSideEncryption"] = sse
            if kms_key_id:
                self._extra["SSEKMSKeyId"] = kms_key_id

    @classmethod
    def at(cls, location: LakeLocation) -> S3Store:
        bucket, prefix = split_uri(location.uri)
        client = boto3.client("s3", config=_CLIENT_CONFIG)  # honours AWS_ENDPOINT_URL_S3
        return cls(
            client,
            bucket,
            prefix,
            sse=location.sse,
            kms_key_id=location.kms_key_id,
        )

    def put(self, key: str, data: bytes) -> None:
        with self._errors(key):
            self.client.upload_fileobj(
                io.BytesIO(data),
                self.bucket,
                self._key(key),
                ExtraArgs=self._extra,
                Config=self._transfer,
            )

    def read_versioned(self, key: str) -> Versioned | None:
        try:
            with self._errors(key):
                answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
                return Versioned(bytes(answer["Body"].read()), str(answer["ETag"]))
        except ObjectMissing:
            return None

    def put_if(self, key: str, data: bytes, version: str | None) -> str | None:
        """S3 conditional writes: If-Match on the ETag read, or If-None-Match for a new key."""
        condition = {"IfMatch": version} if version is not None else {"IfNoneMatch": "*"}
        try:
            with self._errors(key):
                answer = self.client.put_object(
                    Bucket=self.bucket, Key=self._key(key), Body=data, **condition, **self._extra
                )
        except SinkError as exc:
            if isinstance(exc.__cause__, ClientError) and _lost_race(exc.__cause__):
                return None
            raise
        return str(answer["ETag"])

    def get(self, key: str) -> bytes:
        with self._errors(key):
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
            return bytes(body.read())

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        root = self._key("")
        with self._errors(prefix):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                keys += [item["Key"].removeprefix(root) for item in page.get("Contents", [])]
        return sorted(keys)

    def delete(self, key: str) -> None:
        with self._errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _errors(self, key: str) -> _TranslateErrors:
        return _TranslateErrors(self, key)


class _TranslateErrors:
    """Turns boto3 failures into one SinkError sentence that says what to check."""

    def __init__(self, store: S3Store, key: str) -> None:
        self.store, self.key = store, key

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, error: BaseException | None, tb: object) -> None:
        if error is None or isinstance(error, SinkError):
            return
        if isinstance(error, ClientError):
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ObjectMissing(f"{self.key} is not in {LAKE_URI}={self.store.uri}") from error
            raise SinkError(self._client_error(error)) from error
        if isinstance(error, EndpointConnectionError):
            endpoint = self.store.client.meta.endpoint_url
            raise SinkError(
                f"cannot reach {endpoint} for {LAKE_URI}={self.store.uri}: "
                f"check {ENDPOINT_VARIABLE} and the network"
            ) from error
        if isinstance(error, BotoCoreError):
            raise SinkError(f"S3 request for {self.key} failed: {error}") from error

    def _client_error(self, error: ClientError) -> str:
        code = error.response.get("Error", {}).get("Code", "")
        uri = f"{LAKE_URI}={self.store.uri}"
        if code == "NoSuchBucket":
            return f"the bucket of {uri} does not exist: create it or fix {LAKE_URI}"
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return f"access denied writing {self.key} to {uri}: check the function's role or keys"
        if code == "BadDigest":
            return f"the store received {self.key} corrupted (Content-MD5 mismatch)"
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"S3 answered {status} {code} for {self.key} in {uri}"


def _lost_race(error: ClientError) -> bool:
    """412: the object changed since it was read; 409: a concurrent conditional write won."""
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = error.response.get("Error", {}).get("Code", "")
    return status in (409, 412) or code in ("PreconditionFailed", "ConditionalRequestConflict")


def arrow_filesystem(location: LakeLocation) -> tuple[pyarrow.fs.S3FileSystem, str]:
    """A pyarrow S3 filesystem for reading the lake, at the endpoint and in the region boto3
    resolves (AWS_ENDPOINT_URL_S3 and the standard variables), which pyarrow alone would not."""
    import pyarrow.fs

    bucket, prefix = split_uri(location.uri)
    meta = boto3.client("s3", config=_CLIENT_CONFIG).meta
    parts = urlsplit(meta.endpoint_url)
    options: dict[str, Any] = {}
    if not (parts.hostname or "").endswith((".amazonaws.com", ".amazonaws.com.cn")):
        options.update(endpoint_override=parts.netloc, scheme=parts.scheme)  # S3-compatible
    if meta.region_name:
        options["region"] = meta.region_name
    root = f"{bucket}/{prefix}".rstrip("/")
    return pyarrow.fs.S3FileSystem(**options), root
