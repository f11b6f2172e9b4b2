"""Where lake files live: a small port (`put`, `get`, `list`, `delete`) and its backends.

Everything above this module (partitioning, naming, Parquet) works on keys like
`operation_logs/dt=2026-11-20/part-….parquet`. A `put` is atomic: a reader sees the whole object
or nothing.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import Protocol

from lib.core.errors import ObjectMissing, SinkError
from lib.core.settings import LAKE_URI, LakeLocation


class ObjectStore(Protocol):
    uri: str

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def list(self, prefix: str) -> list[str]: ...

    def delete(self, key: str) -> None: ...


class LocalStore:
    """A folder. Writes go to a hidden temporary file, are fsynced, then renamed into place."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.uri = str(self.root)

    def put(self, key: str, data: bytes) -> None:
        target = self._path(key)
        temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
            _fsync_dir(target.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            raise self._error("write", key, exc) from exc

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise ObjectMissing(f"{key} is not in {LAKE_URI}={self.uri}") from exc
        except OSError as exc:
            raise self._error("read", key, exc) from exc

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        if not base.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise self._error("delete", key, exc) from exc

    def _error(self, action: str, key: str, exc: OSError) -> SinkError:
        return SinkError(f"cannot {action} {key} under {LAKE_URI}={self.uri}: {exc.strerror}")

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"refusing key outside the lake: {key!r}")
        return self.root / key


def _fsync_dir(path: Path) -> None:
    """Make the rename itself durable (POSIX); harmless where directories cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_store(location: LakeLocation) -> ObjectStore:
    """The store for the lake: `s3://bucket/prefix` or a local folder."""
    if location.is_s3:
        from lib.lake.s3 import S3Store  # boto3 is imported only for an S3 lake

        return S3Store.at(location)
    return LocalStore(location.uri)
