"""The port every lake backend offers: `put`, `get`, `reader`, `list`, `delete`, and a
compare-and-swap.

Kept apart from the backends (lib/lake/storage.py, lib/lake/s3.py) so that each backend imports
the port and nothing imports a backend but the one function that chooses it (`open_store`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Versioned:
    """An object's bytes and the version a conditional write must name to replace them."""

    data: bytes
    version: str


class ReadableFile(Protocol):
    """A seekable read-only file (what pyarrow's readers accept)."""

    def read(self, size: int = -1, /) -> bytes: ...

    def seek(self, offset: int, whence: int = 0, /) -> int: ...

    def tell(self) -> int: ...

    def close(self) -> None: ...


class ObjectStore(Protocol):
    uri: str

    def put(self, key: str, data: bytes) -> None: ...

    def read_versioned(self, key: str) -> Versioned | None:
        """The object and its version, or None when there is none."""
        ...

    def put_if(self, key: str, data: bytes, version: str | None) -> str | None:
        """Write only if the object is still at `version` (None: only if there is none yet):
        the new version, or None, writing nothing, when another writer got there first."""
        ...

    def get(self, key: str) -> bytes: ...

    def reader(self, key: str) -> ReadableFile:
        """The object as a seekable read-only file (close it), fetching only what is read;
        ObjectMissing if there is none."""
        ...

    def list(self, prefix: str, limit: int | None = None) -> list[str]:
        """The keys under `prefix`, sorted (only the first `limit`, when given)."""
        ...

    def delete(self, key: str) -> None: ...
