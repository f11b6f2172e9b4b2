"""Runs Lambda events from a built package, in an interpreter that sees only the package.

    python3.12 -I -S -B -c "$(cat tools/package_probe.py)" PACKAGE < EVENTS.json

EVENTS.json is a JSON list of events. Each goes to `handler.lambda_handler` as Lambda would hand
it over (the environment says where the lake, the API and the queue are). Then every module loaded
must come from the package or the standard library, and no operator-only module may be loaded.
Prints one line of JSON: the responses, in order, how many modules were loaded, and which
packages and layers of lib; raises on a failure. `tools/package.py check` runs it offline on the
sample events; the package test (tests/functional/test_package.py) runs every event kind through
it against S3, SQS and the API on loopback and reads back what was written.
"""

import json
import os
import sys
import sysconfig
import time
import uuid

PACKAGE = sys.argv[1]
sys.path[:] = [PACKAGE, *(p for p in sys.path if p and "site-packages" not in p)]
OPERATOR_ONLY = ("lib.ops", "lib.reports", "lib.__main__", "tqdm", "duckdb")


class Context:
    """What Lambda passes as the context: a request ID and the time left (15 minutes here)."""

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = "oplog-lake-package-probe"
        self._ends = time.monotonic() + 900

    def get_remaining_time_in_millis(self) -> int:
        return int(max(0.0, self._ends - time.monotonic()) * 1000)


def loaded_from_elsewhere() -> list[str]:
    """Modules whose file is neither in the package nor in the standard library."""
    roots = [os.path.realpath(PACKAGE)]
    roots += [os.path.realpath(sysconfig.get_paths()[k]) for k in ("stdlib", "platstdlib")]
    return sorted(
        name
        for name, module in list(sys.modules.items())
        if getattr(module, "__file__", None)
        and not any(os.path.realpath(module.__file__).startswith(root) for root in roots)
    )


events = json.load(sys.stdin)
import handler  # noqa: E402

responses = [handler.lambda_handler(event, Context()) for event in events]
outside = loaded_from_elsewhere()
assert not outside, f"loaded from outside the package: {outside}"
operator_only = sorted(m for m in sys.modules if m.startswith(OPERATOR_ONLY))
assert not operator_only, f"operator-only modules loaded: {operator_only}"
packages = {name.partition(".")[0] for name in sys.modules} - set(sys.stdlib_module_names)
packages = {name for name in packages if not name.startswith("_") and name != "cython_runtime"}
layers = {".".join(name.split(".")[:2]) for name in sys.modules if name.startswith("lib.")}
summary = {"responses": responses, "modules": len(sys.modules)}
summary |= {"packages": sorted(packages - {"__main__", "handler"}), "layers": sorted(layers)}
print(json.dumps(summary, default=str))
