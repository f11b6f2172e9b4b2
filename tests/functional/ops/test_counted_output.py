"""Counts in what the commands print agree with their nouns: 1 line was, 2 lines were."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.ops.cli import main

from conftest import FIXTURE_LOGS

SEED_ID = "4827f2da-b008-4507-ab7d-42d0df5ed912"


@pytest.mark.parametrize(
    ("lines", "said"),
    [
        ([SEED_ID, "bad id!"], ["2 lines read: 1 row written", "1 line was not valid"]),
        (["bad id!", "[]"], ["2 lines read: 0 rows written", "2 lines were not valid"]),
        ([SEED_ID], ["1 line read: 1 row written", "0 error rows"]),
    ],
)
def test_backfill_counts_agree_with_their_nouns(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    lines: list[str],
    said: list[str],
) -> None:
    monkeypatch.setenv("CBR_ENDPOINT", f"file://{FIXTURE_LOGS}")
    monkeypatch.chdir(tmp_path)
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(lines) + "\n")
    main(["backfill", "--ids-file", str(ids), "--lake", str(tmp_path / "lake")])
    out = capsys.readouterr().out
    for sentence in said:
        assert sentence in out, out
