"""AWS Lambda entry point for oplog-lake; `python handler.py EVENT.json` runs it locally."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from lib.aws.app import handle
from lib.aws.events import UnsupportedEvent
from lib.core.errors import ConfigError, SinkError
from lib.core.runtime import LocalContext

# Counts in a response that mean something is left undone (redelivered, undeleted, failed).
UNDONE = (
    "batchItemFailures",
    "failures",
    "delete_failed",
    "failed",
    "discovery_failures",
    "inventory_failures",
)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, context)


def main(argv: list[str]) -> int:
    """Exit 0 when everything was done, 1 when something is left to redeliver or failed, 2 for a
    usage, event or configuration error (one line on stderr, no traceback)."""
    import argparse  # the command line only: a Lambda cold start does without it

    parser = argparse.ArgumentParser(
        prog="python handler.py",
        description="Run the function once on a sample event, with a 15-minute budget.",
    )
    parser.add_argument("event", help='a JSON event: SQS, scheduled, or {"action": ...}')
    args = parser.parse_args(argv)
    try:
        event = read_event(args.event)
        response = lambda_handler(event, LocalContext())
    except (OSError, UnsupportedEvent, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SinkError as exc:  # a compaction that could not reach the lake
        print(f"error: {exc}", file=sys.stderr)
        return 1
    status = 1 if undone(response) else 0
    try:
        print(json.dumps(response, indent=2))
        if "Records" in event:
            failures = len(response.get("batchItemFailures", []))
            print(f"{args.event}: {len(event['Records'])} messages, {failures} to redeliver")
        else:
            print(f"{args.event}: done")
        sys.stdout.flush()
    except BrokenPipeError:  # `| head`: the reader left; the work is done, its status stands
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # a quiet final flush
    return status


def read_event(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise UnsupportedEvent(f"{path} is not a JSON event ({exc})") from None
    except OSError as exc:
        raise OSError(f"cannot read {path}: {exc.strerror}") from None


def undone(response: Mapping[str, Any]) -> bool:
    return any(response.get(name) for name in UNDONE)


if __name__ == "__main__":
    status = main(sys.argv[1:])
    from lib.lake.reader import release_native_threads

    release_native_threads()  # no Arrow or S3 worker may outlive the interpreter (exit 134)
    sys.exit(status)
