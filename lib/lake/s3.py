"""The S3 (or S3-compatible: OBS, MinIO) backend of the lake's ObjectStore port.

Objects go up through boto3's managed transfer: one request with a checksum the store verifies,
or, above `MULTIPART_THRESHOLD`, a multipart upload that only becomes visible when completed.
They are read whole (`get`) or, for Parquet readers that need a footer and a few columns, through
a file whose reads are ranged GETs (`reader`). boto3's own errors are translated here into
SinkError sentences that name the setting to check.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore import exceptions as botocore_errors
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from lib.core.errors import ConfigError, ObjectMissing, SinkError
from lib.core.settings import LAKE_URI, LakeLocation
from lib.lake.objects import Versioned

if TYPE_CHECKING:
    import pyarrow.fs

MULTIPART_THRESHOLD = 64 * 1024 * 1024
TAIL_BYTES = 1024 * 1024  # a reader's first GET: a Parquet footer, or the whole of a small file
PART_SIZE = 16 * 1024 * 1024
SSE_NONE = "none"
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_S3"  # boto3's own override, named in errors
_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=60
)


# What a mistyped AWS_PROFILE, a missing region or a broken ~/.aws/config raises when a client is
# made: the user's configuration, said in one line (exit 2), not a traceback.
_CONFIGURATION_ERRORS = (
    botocore_errors.ProfileNotFound,
    botocore_errors.ConfigNotFound,
    botocore_errors.ConfigParseError,
    botocore_errors.NoRegionError,
    botocore_errors.InvalidRegionError,
    botocore_errors.PartialCredentialsError,
    botocore_errors.UnknownCredentialError,
    botocore_errors.InvalidConfigError,
)


def aws_client(service: str, config: Config | None = None) -> Any:
    """A boto3 client (honouring AWS_ENDPOINT_URL_* and the standard variables); ConfigError,
    naming what to check, when the AWS configuration cannot make one."""
    try:
        return boto3.client(service, config=config)
    except _CONFIGURATION_ERRORS as exc:
        raise ConfigError(
            f"the AWS configuration cannot be used for {service}: {exc} "
            "(check AWS_PROFILE, AWS_DEFAULT_REGION and AWS_CONFIG_FILE)"
        ) from None


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
        client = aws_client("s3", _CLIENT_CONFIG)  # honours AWS_ENDPOINT_URL_S3
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

    def reader(self, key: str) -> RangedObject:
        return RangedObject(self, key)

    def list(self, prefix: str, limit: int | None = None) -> list[str]:
        keys: list[str] = []
        root = self._key("")
        with self._errors(prefix):
            paginator = self.client.get_paginator("list_objects_v2")
            pages = paginator.paginate(
                Bucket=self.bucket,
                Prefix=self._key(prefix),
                PaginationConfig={"MaxItems": limit, "PageSize": limit} if limit else {},
            )
            for page in pages:
                keys += [item["Key"].removeprefix(root) for item in page.get("Contents", [])]
        return sorted(keys)[:limit]

    def delete(self, key: str) -> None:
        with self._errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _errors(self, key: str) -> _TranslateErrors:
        return _TranslateErrors(self, key)


_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


class RangedObject(io.RawIOBase):
    """An object as a seekable read-only file whose reads are ranged GETs. The first GET takes
    the last TAIL_BYTES (where a Parquet footer is; all of a small file) and tells the size;
    later GETs ask for the same version (If-Match its ETag), so a file replaced meanwhile is
    an error, never a mix of two."""

    def __init__(self, store: S3Store, key: str) -> None:
        super().__init__()
        self.store, self.key, self._position = store, key, 0
        try:
            answer = self._get(f"bytes=-{TAIL_BYTES}")
        except SinkError as exc:
            if not _empty_object(exc):
                raise
            answer = {"ETag": "", "Body": io.BytesIO(b"")}
        self._etag = str(answer["ETag"])
        self._tail = bytes(answer["Body"].read())
        ranged = _CONTENT_RANGE.fullmatch(str(answer.get("ContentRange", "")))
        self.size = int(ranged[3]) if ranged else len(self._tail)
        self._tail_start = self.size - len(self._tail)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        start = self._position
        end = self.size if size is None or size < 0 else min(self.size, start + size)
        if end <= start:
            return b""
        if start >= self._tail_start:
            data = self._tail[start - self._tail_start : end - self._tail_start]
        else:
            answer = self._get(f"bytes={start}-{end - 1}", IfMatch=self._etag)
            data = bytes(answer["Body"].read())
        self._position = start + len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _get(self, byte_range: str, **condition: str) -> Any:
        with self.store._errors(self.key):
            return self.store.client.get_object(
                Bucket=self.store.bucket,
                Key=self.store._key(self.key),
                Range=byte_range,
                **condition,
            )


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


def _empty_object(error: SinkError) -> bool:
    """416: no byte range of an empty object can be satisfied (S3 answers so; some stores
    answer 200 with no body instead)."""
    cause = error.__cause__
    return isinstance(cause, ClientError) and cause.response.get("Error", {}).get("Code") in (
        "InvalidRange",
        "416",
    )


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
    meta = aws_client("s3", _CLIENT_CONFIG).meta
    parts = urlsplit(meta.endpoint_url)
    options: dict[str, Any] = {}
    if not (parts.hostname or "").endswith((".amazonaws.com", ".amazonaws.com.cn")):
        options.update(endpoint_override=parts.netloc, scheme=parts.scheme)  # S3-compatible
    if meta.region_name:
        options["region"] = meta.region_name
    root = f"{bucket}/{prefix}".rstrip("/")
    return pyarrow.fs.S3FileSystem(**options), root
