"""Build the Lambda deployment package: runtime requirements for the Lambda platform, the code the
function loads, nothing else; then prove it in a process that sees only the package.

    python tools/package.py build [--arch arm64|x86_64] [--out DIR] [--as-is] [--check]
    python tools/package.py check DIR

`make package` and SAM's `BuildMethod: makefile` (`make build-IngestFunction`) run `build`. This is
build tooling, not product code: it lives beside the project (tools/), imports nothing from lib/,
and is never shipped. Standard library only, so SAM can run it with any Python 3.11+.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = "3.12"  # template.yaml: Runtime python3.12
PLATFORMS = {  # manylinux_2_17 too: orjson ships only those wheels
    "arm64": ("manylinux_2_28_aarch64", "manylinux_2_17_aarch64"),
    "x86_64": ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64"),
}
ELF_MACHINE = {"arm64": "AArch64", "x86_64": "X86-64"}
NATIVE = {"x86_64": "x86_64", "aarch64": "arm64"}.get(platform.machine(), "")
# The code: handler.py and lib/, less what only operators run (`python -m lib`). The import rule
# (README) keeps lib.ops and lib.reports off the Lambda path; `check` proves it.
OPERATOR_ONLY = ("lib/ops", "lib/reports", "lib/__main__.py")
# Python modules of pyarrow the function never loads. It reads and writes the lake's objects
# through boto3 (lib/lake/s3.py; Parquet from those bytes, `read_partition` in lib/lake/reader.py),
# so the filesystems go; pyarrow's S3FileSystem serves only the operator's reads of an s3:// lake.
# tests/functional/test_package.py runs every event kind from the package: it proves each cut.
PYARROW_UNUSED = (
    "_flight",
    "flight.py",
    "_substrait",
    "substrait.py",
    "gandiva",
    "_s3fs",
    "_gcsfs",
    "_hdfs",
    "_azurefs",
    "_orc",
    "orc.py",
    "_dataset_orc",
    "_parquet_encryption",
    "_dataset_parquet_encryption",
    "_cuda",
    "cuda.py",
    "_pyarrow_cpp_tests",
    "benchmark.py",
    "include",
    "src",
    "tests",
)
SOURCE_SUFFIXES = (".pyx", ".pxd", ".pxi", ".h", ".hpp", ".cc", ".cpp", ".c")
UNUSED_DISTRIBUTIONS = ("tqdm",)  # progress bars of the operator CLI
BOTOCORE_SERVICES = ("s3", "sqs", "secretsmanager", "sts")
SERVICE_DATA = ("botocore/data", "boto3/data")
CHECKED_EVENTS = ("sqs-batch.json", "compact.json")  # `check`: the sample events, offline


@dataclass
class Build:
    """What a build did, step by step: bytes of the package after each step."""

    out: Path
    arch: str
    steps: list[tuple[str, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def measure(self, step: str) -> None:
        self.steps.append((step, size_of(self.out)))


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def build(
    out: Path,
    arch: str,
    *,
    prune: bool = True,
    python: str | None = None,
    runtime: str = RUNTIME,
) -> Build:
    """The package in `out` (emptied first) for Python `runtime` (the Lambda runtime's unless a
    test asks for the one it has). Without `prune`: the requirements as pip installs them with
    the interpreter running this (the package as it was), plus the code."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    result = Build(out, arch)
    install(out, arch, runtime, compile_with_pip=not prune)
    copy_code(out, everything=not prune)
    result.measure("pip install --target + handler.py and lib/")
    if prune:
        prune_package(result)
        compile_bytecode(result, python or find_runtime_python(runtime), runtime)
    return result


def install(out: Path, arch: str, runtime: str, *, compile_with_pip: bool) -> None:
    platforms = [arg for p in PLATFORMS[arch] for arg in ("--platform", p)]
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += [*platforms, "--implementation", "cp", "--python-version", runtime]
    command += ["--only-binary=:all:", "--target", str(out), "-r", str(ROOT / "requirements.txt")]
    if not compile_with_pip:
        command.append("--no-compile")
    subprocess.run(command, check=True)


def copy_code(out: Path, *, everything: bool = False) -> None:
    shutil.copy2(ROOT / "handler.py", out / "handler.py")
    skipped = () if everything else OPERATOR_ONLY

    def ignore(folder: str, names: list[str]) -> set[str]:
        relative = Path(folder).relative_to(ROOT)
        return {
            name
            for name in names
            if name == "__pycache__"
            or name.endswith(".pyc")
            or (relative / name).as_posix() in skipped
        }

    shutil.copytree(ROOT / "lib", out / "lib", ignore=ignore)


def prune_package(result: Build) -> None:
    out = result.out
    removed = _remove(out / "pyarrow", PYARROW_UNUSED, prefix=True)
    removed += [p for p in out.rglob("*") if p.suffix in SOURCE_SUFFIXES and p.is_file()]
    removed += [p for p in out.rglob("__pycache__")] + list(out.rglob("*.dist-info/RECORD"))
    for name in UNUSED_DISTRIBUTIONS:
        removed += [out / name, *out.glob(f"{name}-*.dist-info")]
    _delete(removed)
    result.measure("without Arrow Flight, Substrait, filesystems, ORC, tests, sources, tqdm")
    if shutil.which("readelf") is None:
        result.notes.append("shared libraries kept: readelf (binutils) is not installed here")
    else:
        _delete(unneeded_libraries(out / "pyarrow"))
        result.measure("without shared libraries nothing loads (duplicate copies included)")
    strip(result)
    cut_service_data(out)
    result.measure(f"botocore and boto3 data cut to {', '.join(BOTOCORE_SERVICES)}")


def _remove(folder: Path, names: tuple[str, ...], *, prefix: bool) -> list[Path]:
    return [
        p
        for p in folder.iterdir()
        if any(p.name == n or (prefix and p.name.startswith(f"{n}.")) for n in names)
    ]


def _delete(paths: list[Path]) -> None:
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists() or path.is_symlink():
            path.unlink()


def unneeded_libraries(folder: Path) -> list[Path]:
    """pyarrow's bundled `lib*.so*` files that no remaining extension module or library names
    (DT_NEEDED), transitively: the Flight and S3 libraries once their modules are gone, and the
    duplicate copies (`libarrow_python.so`, `.so.2600.1.0`) a wheel carries instead of symlinks."""
    libraries = {p.name: p for p in folder.glob("lib*.so*") if ".cpython-" not in p.name}
    modules = [p for p in folder.glob("*.so") if ".cpython-" in p.name]
    needed: set[str] = set()
    pending = list(modules)
    while pending:
        for name in dynamic_needs(pending.pop()):
            if name in libraries and name not in needed:
                needed.add(name)
                pending.append(libraries[name])
    return [path for name, path in libraries.items() if name not in needed]


def dynamic_needs(path: Path) -> list[str]:
    """The DT_NEEDED entries of an ELF file (readelf reads any architecture's)."""
    shown = subprocess.run(
        ["readelf", "-d", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return [
        line.split("[", 1)[1].split("]", 1)[0] for line in shown.splitlines() if "(NEEDED)" in line
    ]


def strip(result: Build) -> None:
    """`--strip-unneeded` on every shared library, with a strip that knows the architecture."""
    tool = strip_tool(result.arch)
    if tool is None:
        result.notes.append(f"not stripped: no strip here handles {result.arch} ELF files")
        return
    libraries = [p for p in result.out.rglob("*.so*") if p.is_file() and not p.is_symlink()]
    for path in libraries:
        subprocess.run([tool, "--strip-unneeded", str(path)], check=True, capture_output=True)
    result.measure(f"shared libraries stripped ({Path(tool).name})")


def strip_tool(arch: str) -> str | None:
    """GNU strip for the machine's own architecture; llvm-strip (any architecture) else."""
    candidates = ["strip"] if arch == NATIVE else []
    candidates += ["llvm-strip", *(f"llvm-strip-{v}" for v in range(20, 10, -1))]
    if arch == "arm64":
        candidates.append("aarch64-linux-gnu-strip")
    return next((found for c in candidates if (found := shutil.which(c))), None)


def cut_service_data(out: Path) -> None:
    """Keep the service models of the AWS services the function calls, and the shared files."""
    for data in SERVICE_DATA:
        folder = out / data
        if folder.is_dir():
            _delete([p for p in folder.iterdir() if p.is_dir() and p.name not in BOTOCORE_SERVICES])


def find_runtime_python(runtime: str = RUNTIME) -> str | None:
    """A Python of the Lambda runtime's version here, to compile bytecode Lambda can use."""
    names = [
        f"python{runtime}",
        *sorted(Path.home().glob(f".pyenv/versions/{runtime}*/bin/python3")),
    ]
    for name in names:
        found = shutil.which(str(name))
        if found and _version(found) == runtime:
            return found
    return None


def _version(python: str) -> str:
    probe = [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
    done = subprocess.run(probe, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def compile_bytecode(result: Build, python: str | None, runtime: str = RUNTIME) -> None:
    """cp312 bytecode, valid without checking sources (Lambda's task folder is read-only, so a
    .pyc it cannot use would be recompiled on every cold start). With no Python of the runtime's
    version here, none is shipped."""
    if python is None:
        result.notes.append(f"no bytecode: no Python {runtime} here (Lambda compiles on import)")
        return
    command = [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode"]
    subprocess.run([*command, "unchecked-hash", str(result.out)], check=True)
    result.measure(f"bytecode compiled by Python {runtime} (unchecked-hash)")


def run_events(
    package: Path, events: list[dict[str, Any]], env: dict[str, str], python: str
) -> dict[str, Any]:
    """The events handed to the handler one after the other, as Lambda would, in a fresh
    process of `python` that sees only the package and the standard library (`-I -S`, no
    bytecode written, started outside the checkout, with only `env` as its environment).
    Returns the probe's summary (tools/package_probe.py); raises if anything failed."""
    probe = (ROOT / "tools" / "package_probe.py").read_text()
    with tempfile.TemporaryDirectory() as elsewhere:
        done = subprocess.run(
            [python, "-I", "-S", "-B", "-c", probe, str(package.resolve())],
            input=json.dumps(events),
            env={"PATH": "/usr/bin:/bin", **env},
            cwd=elsewhere,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"the package failed its check:\n{done.stderr[-3000:]}")
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


def check(package: Path, python: str | None = None) -> dict[str, Any]:
    """The quick offline proof: the sample SQS batch replayed into a local lake, then a
    compaction, from the package alone. Every event kind against S3, SQS and the API, with what
    was written read back, is proven by tests/functional/test_package.py in `make test`."""
    python = python or find_runtime_python()
    if python is None:
        raise RuntimeError(f"cannot check the package: no Python {RUNTIME} here")
    events = [json.loads((ROOT / "events" / name).read_text()) for name in CHECKED_EVENTS]
    with tempfile.TemporaryDirectory() as lake:
        env = {"CBR_ENDPOINT": f"file://{ROOT / 'events' / 'operation-logs'}", "LAKE_URI": lake}
        env |= {"LOG_LEVEL": "ERROR", "AWS_DEFAULT_REGION": "eu-west-1"}
        summary = run_events(package, events, env, python)
        written = sorted(Path(lake).rglob("*.parquet"))
    batch, compaction = summary["responses"]
    if batch != {"batchItemFailures": []} or "compacted" not in compaction or not written:
        raise RuntimeError(f"the package failed its check: {batch}, {compaction}, {written}")
    return {"parquet_files": len(written), **summary}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("build", help="build the package")
    make.add_argument("--arch", choices=sorted(PLATFORMS), default="arm64")
    make.add_argument("--out", type=Path, default=None, help="default: build/lambda-ARCH")
    make.add_argument("--as-is", action="store_true", help="no pruning, no bytecode")
    make.add_argument("--check", action="store_true", help="then prove it (native arch only)")
    prove = commands.add_parser("check", help="prove a built package (native arch only)")
    prove.add_argument("package", type=Path)
    args = parser.parse_args()
    if args.command == "check":
        return _report_check(args.package)
    out = args.out or ROOT / "build" / f"lambda-{args.arch}"
    result = build(out, args.arch, prune=not args.as_is)
    for step, size in result.steps:
        print(f"{size / 2**20:7.1f} MiB  {step}")
    for note in result.notes:
        print(f"note: {note}")
    print(f"{out}: {result.arch} package, {result.steps[-1][1] / 2**20:.1f} MiB unzipped")
    return _report_check(out) if args.check else 0


def _report_check(package: Path) -> int:
    try:
        summary = check(package)
    except (RuntimeError, OSError) as exc:
        print(f"{package}: {exc}", file=sys.stderr)
        return 1
    print(f"{package}: proven: {json.dumps(summary)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
