"""Where an interrupted backfill resumes: a small JSON file, replaced atomically after each step."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib.core.times import format_utc, now_utc

CHECKPOINT_DIR = ".oplog-lake"


class BackfillError(RuntimeError):
    """The backfill stopped; progress so far is kept in the checkpoint."""


@dataclass
class Checkpoint:
    path: Path
    job: str
    position: dict[str, Any] = field(default_factory=dict)
    resumed: bool = False

    @classmethod
    def open(cls, path: Path, job: str) -> Checkpoint:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(path, job)
        except (OSError, ValueError) as exc:
            raise BackfillError(f"cannot read the checkpoint {path}: {exc}") from exc
        if not isinstance(document, dict) or document.get("job") != job:
            raise BackfillError(
                f"the checkpoint {path} belongs to another backfill; remove it or pass "
                "another --checkpoint"
            )
        return cls(path, job, dict(document.get("position", {})), resumed=True)

    def save(self, **position: Any) -> None:
        self.position = position
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        document = {"job": self.job, "position": position, "saved_at": format_utc(now_utc())}
        temporary.write_text(json.dumps(document), encoding="utf-8")
        os.replace(temporary, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def default_checkpoint(job_key: str) -> Path:
    return Path(CHECKPOINT_DIR) / f"backfill-{job_key}.json"
