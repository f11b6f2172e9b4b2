"""Fuzz the pure stages far past the test suite's example counts (not collected by pytest).

    .venv/bin/python tests/fuzz/fuzz_parse.py --examples 20000

Two targets, each split into `--jobs` shares (default 2) run by as many processes, the slower
target first, each share with its own seed:

- parse_body: arbitrary text, arbitrary JSON, 64 KiB+ bodies and bodies of an accepted shape with
  near-miss IDs; checks every invariant of tests/property/ingest/test_messages_property.py.
- flatten: operation_log objects built on the schema's paths and of any JSON shape, edges included
  (timestamps at the year 1/9999 edges, integer text over 4300 digits, lone surrogates inside
  values of the wrong type); checks the row converts to the Arrow schema, keeps the record in
  raw_json and counts what it nulls.

The strategies and checks are the ones of the property tests, loaded from their files, so the fuzz
and the suite cannot drift apart. Prints how many examples ran; on the first failure prints the
falsifying input (shrunk) and exits 1.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SHOWN_CHARS = 2000  # of a falsifying input's repr


def load_property_module(name: str) -> ModuleType:
    """A property test module by file, for its strategies and checks (tests/ is no package)."""
    path = ROOT / "tests" / "property" / "ingest" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"fuzz_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Target:
    name: str
    strategy: st.SearchStrategy[Any]
    check: Callable[[Any], None]


def parse_body_target() -> Target:
    m = load_property_module("test_messages_property")
    unknown_shape = st.one_of(
        m.any_text, m.arbitrary_json_bodies, m.repeated_chunks(), m.repeated_chunks(m.utf8_char)
    )
    bodies = st.one_of(
        m.shaped_bodies().map(lambda shaped: (shaped.body, shaped)),
        unknown_shape.map(lambda body: (body, None)),
    )

    def check(drawn: tuple[str, Any]) -> None:
        body, shaped = drawn
        if shaped is None:
            m.parse_and_check(body)
        else:
            m.assert_parsed_exactly(shaped)
        m.assert_clipped_safely(body)

    return Target("parse_body", bodies, check)


def flatten_target() -> Target:
    m = load_property_module("test_flatten_property")
    records = st.one_of(
        m.operation_logs(),
        m.operation_logs(),
        st.dictionaries(m.drift_keys, m.json_values(), max_size=6),
    )
    return Target("flatten", records, m.assert_flattens_faithfully)


@dataclass(frozen=True)
class Outcome:
    name: str
    examples: int
    seconds: float
    failure: str | None = None


def fuzz(target: Target, examples: int, random_seed: int | None) -> Outcome:
    """Run the target's check over `examples` generated inputs; shrink the first failure."""
    calls = 0
    last_failing: list[Any] = []

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(target.strategy)
    def run(value: Any) -> None:
        nonlocal calls
        calls += 1
        try:
            target.check(value)
        except BaseException:
            last_failing[:] = [value]  # the final call replays the shrunk example
            raise

    if random_seed is not None:
        run = seed(random_seed)(run)
    started = time.monotonic()
    try:
        run()
    except Exception:
        shown = repr(last_failing[0])[:SHOWN_CHARS] if last_failing else "(not captured)"
        failure = f"falsifying input: {shown}\n{traceback.format_exc(limit=-8)}"
        return Outcome(target.name, calls, time.monotonic() - started, failure)
    return Outcome(target.name, calls, time.monotonic() - started)


def run_chunk(chunk: Chunk) -> Outcome:
    """Build and fuzz one target (in a worker process: strategies are not picklable)."""
    target = parse_body_target() if chunk.target == "parse_body" else flatten_target()
    return fuzz(target, chunk.examples, chunk.seed)


@dataclass(frozen=True)
class Chunk:
    """A share of one target's examples, with its own seed so every share explores anew."""

    target: str
    examples: int
    seed: int


def plan(targets: list[str], examples: int, jobs: int, first_seed: int) -> list[Chunk]:
    """Each target split into `jobs` shares, the slow target first so the workers end together."""
    chunks = []
    for name in sorted(targets, key=lambda name: name != "flatten"):
        for share in range(jobs):
            count = examples // jobs + (share < examples % jobs)
            chunks.append(Chunk(name, count, first_seed + len(chunks)))
    return [chunk for chunk in chunks if chunk.examples]


def report(outcomes: list[tuple[Chunk, Outcome]]) -> None:
    for name in dict.fromkeys(chunk.target for chunk, _ in outcomes):
        mine = [(c, o) for c, o in outcomes if c.target == name]
        examples = sum(o.examples for _, o in mine)
        seconds = sum(o.seconds for _, o in mine)
        failed = [(c, o) for c, o in mine if o.failure]
        verdict = "FAILED" if failed else "passed"
        print(f"{name}: {examples} examples {verdict} ({seconds:.1f} CPU-s, {len(mine)} shares)")
        for chunk, outcome in failed:
            print(outcome.failure)
            print(
                f"reproduce: {Path(sys.executable).name} tests/fuzz/fuzz_parse.py --only {name}"
                f" --jobs 1 --examples {chunk.examples} --seed {chunk.seed}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20_000, help="per target (20000)")
    parser.add_argument("--seed", type=int, default=None, help="first seed (random by default)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (2)")
    parser.add_argument("--only", choices=["parse_body", "flatten"], help="fuzz one target")
    args = parser.parse_args(argv)

    first_seed = args.seed if args.seed is not None else random.randrange(2**32)
    targets = [args.only] if args.only else ["parse_body", "flatten"]
    chunks = plan(targets, args.examples, max(1, args.jobs), first_seed)
    print(f"{args.examples} examples per target, {len(chunks)} shares, first seed {first_seed}")
    started = time.monotonic()
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            outcomes = list(zip(chunks, pool.map(run_chunk, chunks), strict=True))
    else:
        outcomes = [(chunk, run_chunk(chunk)) for chunk in chunks]
    report(outcomes)
    print(f"wall time {time.monotonic() - started:.1f}s")
    return 1 if any(outcome.failure for _, outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
