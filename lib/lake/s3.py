"""The S3 (or S3-compatible: OBS, MinIO) backend of the lake's ObjectStore port.

Every object is written whole in one request with its Content-MD5 checked by the store, or, above
`MULTIPART_THRESHOLD`, as a multipart upload that only becomes visible when completed. boto3's own
errors are translated here into SinkError sentences that name the setting to check.
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from lib.core.errors import ConfigError, ObjectMissing, SinkError
from lib.core.settings import LAKE_URI

if TYPE_CHECKING:
    import pyarrow.fs

MULTIPART_THRESHOLD = 64 * 1024 * 1024
PART_SIZE = 16 * 1024 * 1024
SSE_NONE = "none"
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_S3"
_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=60
)


def split_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ("bucket", "some/prefix")."""
    parts = urlsplit(uri)
    bucket, prefix = parts.netloc, parts.path.strip("/")
    if parts.scheme != "s3" or not bucket:
        raise ConfigError(f"{LAKE_URI} must look like s3://bucket/prefix, got {uri!r}.")
    return bucket, prefix


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
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.bucket = bucket
        self.prefix = prefix
        self.uri = f"s3://{bucket}/{prefix}".rstrip("/")
        self._encryption: dict[str, str] = {}
        if sse != SSE_NONE:
            self._encryption["ServerSideEncryption"] = sse
            if kms_key_id:
                self._encryption["SSEKMSKeyId"] = kms_key_id

    @classmethod
    def from_uri(cls, uri: str, *, sse: str = "AES256", kms_key_id: str | None = None) -> S3Store:
        bucket, prefix = split_uri(uri)
        client = boto3.client("s3", config=_CLIENT_CONFIG)  # honours AWS_ENDPOINT_URL_S3
        return cls(client, bucket, prefix, sse=sse, kms_key_id=kms_key_id)

    def put(self, key: str, data: bytes) -> None:
        with self._errors(key):
            if len(data) <= self.multipart_threshold:
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=self._key(key),
                    Body=data,
                    ContentMD5=_md5(data),
                    **self._encryption,
                )
            else:
                self._put_multipart(self._key(key), data)

    def _put_multipart(self, key: str, data: bytes) -> None:
        upload = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=key, **self._encryption
        )
        upload_id = upload["UploadId"]
        try:
            parts = []
            for number, start in enumerate(range(0, len(data), self.part_size), start=1):
                chunk = data[start : start + self.part_size]
                answer = self.client.upload_part(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=chunk,
                    ContentMD5=_md5(chunk),
                )
                parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise

    def get(self, key: str) -> bytes:
        with self._errors(key):
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

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
            endpoint = os.environ.get(ENDPOINT_VARIABLE, "the AWS S3 endpoint")
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


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def arrow_filesystem(uri: str) -> tuple[pyarrow.fs.S3FileSystem, str]:
    """A pyarrow S3 filesystem for reading the lake, with the same endpoint variables as boto3."""
    import pyarrow.fs

    bucket, prefix = split_uri(uri)
    endpoint = os.environ.get(ENDPOINT_VARIABLE) or os.environ.get("AWS_ENDPOINT_URL")
    options: dict[str, Any] = {}
    if endpoint:
        parts = urlsplit(endpoint)
        options["endpoint_override"] = parts.netloc
        options["scheme"] = parts.scheme
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options["region"] = region
    root = f"{bucket}/{prefix}".rstrip("/")
    return pyarrow.fs.S3FileSystem(**options), root
