"""Realistic generated operation logs for benchmarks: every operation type, nulls, lists, unicode,
and the API's timestamp spellings, derived from the sample logs in events/operation-logs."""

from __future__ import annotations

import copy
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parent.parent / "events" / "operation-logs"
START = datetime(2026, 10, 1, tzinfo=UTC)


def samples() -> list[dict[str, Any]]:
    return [
        json.loads(p.read_text(encoding="utf-8"))["operation_log"]
        for p in sorted(SAMPLES.glob("*.json"))
    ]


def spell(moment: datetime, style: int) -> str:
    """The three spellings the API has used: naive microseconds, +00:00 milliseconds, Z seconds."""
    if style == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if style == 1:
        return moment.isoformat(timespec="milliseconds")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_logs(count: int, seed: int = 7, days: int = 60) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    templates = samples()
    logs = []
    for n in range(count):
        log = copy.deepcopy(templates[n % len(templates)])
        created = START + timedelta(seconds=rng.randrange(days * 86400))
        style = rng.randrange(3)
        log["id"] = str(uuid.UUID(int=rng.getrandbits(128)))
        log["created_at"] = spell(created, style)
        log["started_at"] = spell(created + timedelta(seconds=rng.randrange(5)), style)
        if log.get("ended_at"):
            log["ended_at"] = spell(created + timedelta(seconds=30 + rng.randrange(3600)), style)
        log["updated_at"] = spell(created + timedelta(seconds=3700), style)
        common = log.setdefault("extra_info", {}).setdefault("common", {})
        common["request_id"] = f"req-{uuid.UUID(int=rng.getrandbits(128))}"
        if rng.random() < 0.1:
            log["vault_name"] = None
        logs.append(log)
    return logs
