"""Offline answers of the list APIs the inventory reads, from files (`CBR_ENDPOINT=file://DIR`).

The answers live in the folder `inventory` beside DIR (`DIR/../inventory`, which is DIR itself
when DIR is named `inventory`), one file per list holding the API's whole answer:

    {project_id}/vaults.json               ListVault:       {"vaults": [...], "count": N}
    {project_id}/policies.json             ListPolicies:    {"policies": [...], "count": N}
    {project_id}/protectables/{type}.json  ListProtectable: {"instances": [...]}
    {project_id}/backups.json              ListBackups:     {"backups": [...], "count": N}

The replay pages a file as the API would: `marker` (the items after the one with that ID), then
`offset` and `limit`; the file's other keys (`count`) are answered as written. A missing file
answers like an API that is not there (404 APIGW.0101). The project folders are the projects a
replay knows.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lib.core.ids import is_valid_id

LISTS_FOLDER = "inventory"
_LIST_PATH = re.compile(
    r"/v3/(?P<project>[^/?#]+)/(?:(?P<list>vaults|policies|backups)"
    r"|protectables/(?P<type>[^/?#]+)/instances)\Z"
)
_KEYS = {"vaults": "vaults", "policies": "policies", "backups": "backups"}
NO_API = b'{"error_code":"APIGW.0101","error_msg":"The API does not exist."}'
BAD_QUERY = b'{"error_code":"BackupService.9900","error_msg":"Parameter verification failed."}'


def lists_root(replay_dir: str | Path) -> Path:
    """The folder of list answers for a replay of `replay_dir`."""
    return Path(replay_dir).parent / LISTS_FOLDER


def replay_projects(replay_dir: str | Path) -> tuple[str, ...]:
    """The projects the replay holds list answers for (its folders named like project IDs)."""
    root = lists_root(replay_dir)
    if not root.is_dir():
        return ()
    return tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and is_valid_id(p.name)))


def answer_list(root: Path, url: str) -> tuple[int, bytes] | None:
    """(status, body) for a list request, or None when the URL is not one of the lists."""
    parts = urlsplit(url)
    match = _LIST_PATH.search(parts.path)
    if match is None:
        return None
    segments = [match["project"], match["list"] or match["type"]]
    if not all(is_valid_id(segment) for segment in segments):
        return 404, NO_API
    if match["list"]:
        file, key = root / segments[0] / f"{segments[1]}.json", _KEYS[segments[1]]
    else:
        file, key = root / segments[0] / "protectables" / f"{segments[1]}.json", "instances"
    try:
        body = file.read_bytes()  # another OSError is the caller's (a transport failure)
    except FileNotFoundError:
        return 404, NO_API
    try:
        document = json.loads(body)
    except ValueError:
        return 200, body  # answered as it is: the client says what is wrong with it
    if not isinstance(document, dict) or not isinstance(document.get(key, []), list):
        return 200, body
    query = dict(parse_qsl(parts.query))
    try:
        page = _page(document.get(key) or [], query)
    except ValueError:
        return 400, BAD_QUERY
    return 200, json.dumps({**document, key: page}, ensure_ascii=False).encode()


def _page(items: list[Any], query: dict[str, str]) -> list[Any]:
    """The items a request asks for: after `marker`, then from `offset`, at most `limit`."""
    if "marker" in query:
        ids = [item.get("id") if isinstance(item, dict) else None for item in items]
        items = items[ids.index(query["marker"]) + 1 :] if query["marker"] in ids else []
    offset = int(query.get("offset", 0))
    limit = int(query.get("limit", len(items) or 1))
    if offset < 0 or limit < 1:
        raise ValueError("offset or limit out of range")
    return items[offset : offset + limit]
