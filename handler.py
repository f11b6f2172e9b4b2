"""AWS Lambda entry point for oplog-lake; `python handler.py EVENT.json` runs it locally."""

from __future__ import annotations

import json
import sys
from typing import Any

from lib.aws.app import handle
from lib.core.runtime import LocalContext


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, context)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python handler.py EVENT.json", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as handle:
        event = json.load(handle)
    response = lambda_handler(event, LocalContext())
    print(json.dumps(response, indent=2))
    if "Records" in event:
        failures = len(response.get("batchItemFailures", []))
        print(f"{argv[0]}: {len(event['Records'])} messages, {failures} to redeliver")
    else:
        print(f"{argv[0]}: done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
