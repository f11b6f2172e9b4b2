"""Peak memory of one invocation (a 10,000-ID SQS batch) fetched over HTTP and replayed offline
(`CBR_ENDPOINT=file://DIR`), of a scheduled drain (100,000 IDs), for the logs of each bench
generator and for varied logs whose names and messages never repeat, and of batches of 5 and 30
messages of 1,000 invalid IDs each against one invalid ID each.

Each scenario runs in a fresh child process and reports its own peak RSS (VmHWM). An invocation
goes through the Lambda entry (`handler.lambda_handler`), configured through the environment as
deployed. The drain also samples its RSS four times a second: RSS is flat when the median of the
last quarter of the drain is no higher than that of the second quarter (the first is warm-up).
The drain uses moto's SQS server and the fake CBR server on loopback.

    python bench/memory.py [--batch 10000] [--drain 100000] [--generator varied] [--invalid-only]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
PROJECT = "04f1829c788037ac2fb8c01eb2b04b95"
IDS_PER_MESSAGE = 10
# moto's ReceiveMessage takes about 250 ms a call, so the drain's messages carry more IDs each:
# the drain still writes every DRAIN_BATCH_IDS (1,000) IDs, which is what bounds its memory.
IDS_PER_DRAIN_MESSAGE = 100


def batch_event(ids: int, per_message: int = IDS_PER_MESSAGE) -> dict:
    from serve import task_id

    bodies = [
        json.dumps([task_id(n) for n in range(start, min(ids, start + per_message))])
        for start in range(0, ids, per_message)
    ]
    return {
        "Records": [
            {"messageId": f"m{i}", "body": body, "eventSource": "aws:sqs"}
            for i, body in enumerate(bodies)
        ]
    }


def child_invocation(endpoint: str, ids: int) -> dict:
    """One invocation through the Lambda entry: `endpoint` is the fake API's URL, or
    file://FOLDER for the offline replay."""
    with tempfile.TemporaryDirectory() as lake:
        os.environ.update(
            CBR_ENDPOINT=endpoint, CBR_PROJECT_ID=PROJECT, LAKE_URI=lake, LOG_LEVEL="ERROR"
        )
        import handler
        from lib.core.runtime import LocalContext

        response = handler.lambda_handler(batch_event(ids), LocalContext())
    assert response == {"batchItemFailures": []}, response
    return {
        "ids": ids,
        "pandas_loaded": "pandas" in sys.modules and sys.modules["pandas"] is not None,
    }


def measure_paths(generator: str, ids: int, *, unique: bool = False) -> dict:
    """The same invocation over HTTP (the fake API in its own process) and replayed from a
    folder of the same bodies: peak RSS of each, and the replay's against HTTP's."""
    from fetch import fake_server
    from serve import served_logs

    extra = ("--unique",) if unique else ()
    with fake_server(ids, 0.0, None, *extra, generator=generator) as server:
        http = run_child("invocation", server.base_url, ids, as_deployed=True)
    with tempfile.TemporaryDirectory() as folder:
        for log in served_logs(ids, generator, unique=unique):
            body = json.dumps({"operation_log": log}).encode()  # as the fake API serves it
            Path(folder, f"{log['id']}.json").write_bytes(body)
        replay = run_child("invocation", f"file://{folder}", ids, as_deployed=True)
    return {
        "invocation": http,
        "replay": replay,
        "replay_vs_http": replay["peak_rss_mb"] / http["peak_rss_mb"],
    }


def invalid_ids_event(messages: int, ids_per_message: int) -> dict:
    """Messages of IDs that each fail the pattern (a slash), each body just under 64 KiB when it
    names 1,000: the input that once cost 632 MB for 5 messages and 2.6 GB for 30."""
    bodies = [
        json.dumps([f"{m:03d}/{n:04d}-" + "x" * 51 for n in range(ids_per_message)])
        for m in range(messages)
    ]
    return {
        "Records": [
            {"messageId": f"m{i}", "body": body, "eventSource": "aws:sqs"}
            for i, body in enumerate(bodies)
        ]
    }


def child_invalid(base_url: str, spec: int) -> dict:
    """`spec` = messages * 10,000 + IDs per message (run_child passes one integer)."""
    from lib.aws.app import App
    from lib.core.runtime import LocalContext
    from lib.core.settings import Settings

    messages, per_message = divmod(spec, 10_000)
    with tempfile.TemporaryDirectory() as lake:
        app = App.from_settings(
            Settings(cbr_endpoint=base_url, project_id=PROJECT, lake_uri=lake, log_level="ERROR")
        )
        response = app.handle(invalid_ids_event(messages, per_message), LocalContext())
    assert response == {"batchItemFailures": []}, response
    return {"messages": messages, "ids_per_message": per_message}


def measure_invalid_ids(base_url: str, counts: tuple[int, ...] = (5, 30)) -> dict:
    """Peak RSS of a batch of messages of 1,000 invalid IDs each, against the same number of
    messages of one invalid ID each (the baseline, measured in the same run)."""
    result = {}
    for messages in counts:
        heavy = run_child("invalid", base_url, messages * 10_000 + 1000)
        light = run_child("invalid", base_url, messages * 10_000 + 1)
        result[str(messages)] = {
            "peak_rss_mb": heavy["peak_rss_mb"],
            "baseline_rss_mb": light["peak_rss_mb"],
            "ratio": heavy["peak_rss_mb"] / light["peak_rss_mb"],
        }
    return result


def child_batch(bodies_file: str, ids: int) -> dict:
    """The batch path alone (not wired into the pipeline yet): bodies -> texts -> one table ->
    the lake, for as many bodies as one invocation fetches (read from a file, one a line)."""
    from datetime import UTC, datetime

    from lib.cbr.texts import operation_log_text
    from lib.core.jsontext import decode_json
    from lib.ingest.batch import Record, to_table
    from lib.lake.storage import LocalStore
    from lib.lake.writer import Lake

    bodies = Path(bodies_file).read_bytes().splitlines()[:ids]
    records = [Record(None, operation_log_text(body), f"m{n}") for n, body in enumerate(bodies)]
    built = to_table(records, ingested_at=datetime.now(UTC), decode=decode_json)
    with tempfile.TemporaryDirectory() as lake:
        Lake(LocalStore(lake)).write(built.table, [])
    return {"ids": ids}


def batch_path(generator: str, ids: int) -> dict:
    from generate import GENERATORS

    logs = GENERATORS[generator](ids, days=1)
    with tempfile.NamedTemporaryFile(suffix=".ndjson") as bodies:
        bodies.write(b"\n".join(json.dumps({"operation_log": log}).encode() for log in logs))
        bodies.flush()
        return run_child("batch", bodies.name, ids)


def moto_process() -> tuple[subprocess.Popen[bytes], str]:
    """moto's server in its own process, so it does not share the drain's interpreter."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return process, endpoint


def child_drain(base_url: str, ids: int) -> dict:
    import boto3

    from lib.aws.app import App
    from lib.core.runtime import LocalContext
    from lib.core.settings import Settings

    server, endpoint = moto_process()
    os.environ["AWS_ENDPOINT_URL_SQS"] = endpoint
    os.environ.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x")
    os.environ["AWS_DEFAULT_REGION"] = "ap-southeast-1"
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="tasks", Attributes={"VisibilityTimeout": "900"})["QueueUrl"]
    records = batch_event(ids, IDS_PER_DRAIN_MESSAGE)["Records"]
    for start in range(0, len(records), 10):
        entries = [
            {"Id": str(i), "MessageBody": r["body"]}
            for i, r in enumerate(records[start : start + 10])
        ]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    sampler = RssSampler()
    with tempfile.TemporaryDirectory() as lake:
        settings = Settings(
            cbr_endpoint=base_url,
            project_id=PROJECT,
            lake_uri=lake,
            queue_url=url,
            log_level="ERROR",
            drain_wait_s=1,
            drain_max_messages=10_000_000,
        )
        app = App.from_settings(settings)
        sampler.start()
        summary = app.handle({"detail-type": "Scheduled Event"}, LocalContext())
        sampler.stop()
    server.terminate()
    server.wait(timeout=30)
    assert summary["deleted"] == len(records) and summary["rows"] == ids, summary
    return {"ids": ids, "batches": summary["batches"], **sampler.summary()}


class RssSampler(threading.Thread):
    """VmRSS four times a second until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.25):
            self.samples.append(rss_mb())

    def stop(self) -> None:
        self.done.set()
        self.join()

    def summary(self) -> dict[str, float]:
        quarter = max(1, len(self.samples) // 4)
        early = statistics.median(self.samples[quarter : 2 * quarter] or self.samples)
        late = statistics.median(self.samples[-quarter:])
        return {
            "rss_second_quarter_mb": early,
            "rss_last_quarter_mb": late,
            "rss_growth": late / early,
        }


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork and
    exec, so a child would report its parent's peak if that was higher."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _NoPandas:
    """An import hook that makes pandas unavailable, as it is in the deployed function."""

    def find_spec(self, name: str, path: object, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("pandas is not part of the deployment")


def block_pandas() -> None:
    sys.meta_path.insert(0, _NoPandas())


def run_child(kind: str, target: str, ids: int, *, as_deployed: bool = False) -> dict:
    """The scenario in a fresh process (`target`: the fake CBR's URL, or a generator); returns
    its result with its peak RSS."""
    paths = [str(ROOT), str(ROOT / "bench")]
    # pandas is installed for the CPU baseline only; pyarrow would import it on its first
    # conversion, which the deployed function (without pandas) never does. Through the Lambda
    # entry (`as_deployed`), the function keeps it out itself.
    code = (
        f"import json, resource, sys; sys.path[:0] = {paths!r}; import memory; "
        f"{'' if as_deployed else 'memory.block_pandas(); '}"
        f"r = memory.child_{kind}({target!r}, {ids}); "
        "r['peak_rss_mb'] = memory.peak_rss_mb(); "
        "print(json.dumps(r))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_one(generator: str, batch: int, drain: int) -> dict:
    from fetch import fake_server

    paths = measure_paths(generator, batch)
    with fake_server(drain, latency=0.0, generator=generator) as server:
        drained = run_child("drain", server.base_url, drain)
        invalid = measure_invalid_ids(server.base_url)
    return {
        **paths,
        "batch_path": batch_path(generator, batch),
        "drain": drained,
        "drain_vs_invocation": drained["peak_rss_mb"] / paths["invocation"]["peak_rss_mb"],
        "invalid_ids": invalid,
    }


def measure(batch: int, drain: int) -> dict[str, dict]:
    """Every generator's figures, and both paths of an invocation on bodies that never repeat
    a name or a message (`unique`: the varied generator's logs made so)."""
    from generate import GENERATORS

    found = {generator: measure_one(generator, batch, drain) for generator in GENERATORS}
    return {**found, "unique": measure_paths("varied", batch, unique=True)}


def main() -> None:
    from generate import GENERATORS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--drain", type=int, default=100_000)
    parser.add_argument("--generator", choices=sorted(GENERATORS), default=None, help="else both")
    parser.add_argument("--invalid-only", action="store_true", help="only the invalid-ID batches")
    parser.add_argument(
        "--paths-only", action="store_true", help="only one invocation over HTTP and replayed"
    )
    parser.add_argument("--unique", action="store_true", help="names and messages never repeat")
    args = parser.parse_args()
    if args.paths_only:
        generator = args.generator or "varied"
        found = measure_paths(generator, args.batch, unique=args.unique)
        print(json.dumps(found, indent=2))
        return
    if args.invalid_only:
        from fetch import fake_server

        with fake_server(10, latency=0.0) as server:
            print(json.dumps(measure_invalid_ids(server.base_url), indent=2))
        return
    if args.generator is None:
        print(json.dumps(measure(args.batch, args.drain), indent=2))
    else:
        print(json.dumps(measure_one(args.generator, args.batch, args.drain), indent=2))
    _ = resource


if __name__ == "__main__":
    main()
