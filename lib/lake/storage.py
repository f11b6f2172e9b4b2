"""Where lake files live: the local backend of the port (lib/lake/objects.py), and the choice
of backend for a location (S3 in lib/lake/s3.py).

Everything above this module (partitioning, naming, Parquet) works on keys like
`operation_logs/dt=2026-11-20/part-….parquet`. A `put` is atomic: a reader sees the whole object
or nothing. `reader` opens an object as a seekable file that fetches only what is read, so a
Parquet reader takes a footer and a few columns, not the whole object. Small state documents
(`_state/...`) are changed with a compare-and-swap (`read_versioned` + `put_if`), so two writers
can never overwrite each other unseen.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import uuid
from pathlib import Path

from lib.core.errors import ObjectMissing, SinkError
from lib.core.settings import LAKE_URI, LakeLocation
from lib.lake.objects import ObjectStore, ReadableFile, Versioned

__all__ = ["LocalStore", "ObjectStore", "ReadableFile", "Versioned", "open_store"]


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
            self._write_file(temporary, data)
            os.replace(temporary, target)
            _fsync_dir(target.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            raise self._error("write", key, exc) from exc

    def _write_file(self, path: Path, data: bytes) -> None:
        """The bytes into a new file, on the disk when this returns (OSError when the disk
        refuses them: full, read-only, gone)."""
        with open(path, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    def read_versioned(self, key: str) -> Versioned | None:
        try:
            data = self.get(key)
        except ObjectMissing:
            return None
        return Versioned(data, _digest(data))

    def put_if(self, key: str, data: bytes, version: str | None) -> str | None:
        """Compare and swap under an exclusive lock on a sibling lock file (POSIX `flock`
        between processes of this machine), then the same atomic rename as `put`."""
        lock_path = self._path(key).with_name(f".{self._path(key).name}.lock")
        try:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            with open(lock_path, "a+b") as lock:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
                current = self.read_versioned(key)
                if (current.version if current else None) != version:
                    return None
                self.put(key, data)
                return _digest(data)
        except OSError as exc:
            raise self._error("write", key, exc) from exc

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise ObjectMissing(f"{key} is not in {LAKE_URI}={self.uri}") from exc
        except OSError as exc:
            raise self._error("read", key, exc) from exc

    def reader(self, key: str) -> ReadableFile:
        try:
            return open(self._path(key), "rb")  # the caller closes it
        except FileNotFoundError as exc:
            raise ObjectMissing(f"{key} is not in {LAKE_URI}={self.uri}") from exc
        except OSError as exc:
            raise self._error("read", key, exc) from exc

    def list(self, prefix: str, limit: int | None = None) -> list[str]:
        base = self._path(prefix)
        if not base.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )[:limit]

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


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
