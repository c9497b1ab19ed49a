"""Shared helpers for linkwell's baseline comparisons (benches/*.py).

Nothing here is a benchmark by itself. It provides:

* ``measure(cmd)``: run a command as a child process and report its wall
  time and peak memory, measured the same way for every tool:
  - ``peak_rss``: the largest resident set of any single process of the run,
    from ``/usr/bin/time -v`` ("Maximum resident set size") when that exists,
    else from psutil polling, else ``resource.getrusage(RUSAGE_CHILDREN)``;
  - ``peak_tree_rss``: the largest *sum* of resident sets over the process
    tree, sampled with psutil every ``poll`` seconds (``None`` without
    psutil). This matters for tools that fork workers (clkhash uses one
    process per core): their ``peak_rss`` shows only the biggest process.
* ``machine()``: CPU model, core count and RAM, from /proc.
* ``md_table(...)``: a Markdown table whose rows carry the machine and date.
* ``linkwell_binary()``: the linkwell binary to benchmark (``$LINKWELL`` or
  ``target/release/linkwell`` of this worktree), refusing a missing one.
* ``subcommand_exists(binary, name)``: whether ``linkwell NAME --help`` is
  understood (for commands that are not built yet).

Every benchmark runs both tools as child processes through ``measure``, one
after the other, on the same input file in the same run, so the figures are
comparable. Python baselines run as a worker mode of their own script
(``python SCRIPT --worker ...``) so that interpreter start-up and imports
are counted for Python as process start-up is for linkwell.

Run nothing here directly; ``python benches/common.py`` prints the machine
line as a smoke test.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterable, Sequence

try:  # optional: tree-wide memory sampling
    import psutil  # type: ignore
except ImportError:  # pragma: no cover - psutil is pinned in requirements.txt
    psutil = None

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
DATA_DIR = Path(os.environ.get("LWBENCH_DIR", "/tmp/lwbench"))
GNU_TIME = "/usr/bin/time"


class BenchError(RuntimeError):
    """A benchmark could not be run; the message says why and what to do."""


# --------------------------------------------------------------------------
# Machine
# --------------------------------------------------------------------------


def machine() -> dict:
    """CPU model, logical core count and total RAM of this machine."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    ram_gib = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    ram_gib = int(line.split()[1]) / (1024 * 1024)
                    break
    except OSError:
        pass
    return {"cpu": model, "cores": cores, "ram_gib": ram_gib}


def machine_line() -> str:
    m = machine()
    ram = f"{m['ram_gib']:.0f} GiB RAM" if m["ram_gib"] else "RAM unknown"
    return f"{m['cpu']}, {m['cores']} cores, {ram}"


def today() -> str:
    return _dt.date.today().isoformat()


# --------------------------------------------------------------------------
# Measuring a command
# --------------------------------------------------------------------------


@dataclasses.dataclass
class Measurement:
    """What one child process run cost."""

    cmd: list
    wall_s: float
    peak_rss: int | None  # bytes, largest single process
    peak_tree_rss: int | None  # bytes, largest sampled sum over the tree
    rss_method: str
    returncode: int
    stdout: str
    stderr: str
    cpu_s: float | None = None  # user + system CPU seconds (from /usr/bin/time -v)
    busy_before_pct: float | None = None  # % of all CPUs busy in the second before it started

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def check(self, what: str) -> "Measurement":
        """Raise a clear error if the command failed."""
        if self.returncode != 0:
            tail = "\n".join(self.stderr.strip().splitlines()[-15:])
            raise BenchError(
                f"{what} failed with exit code {self.returncode}: {' '.join(map(str, self.cmd))}\n{tail}"
            )
        return self


def _tree_rss(proc: "psutil.Process") -> int:
    total = 0
    try:
        procs = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def _parse_gnu_time(text: str) -> tuple[int | None, float | None]:
    m = re.search(r"Maximum resident set size \(kbytes\):\s*(\d+)", text)
    u = re.search(r"User time \(seconds\):\s*([\d.]+)", text)
    s = re.search(r"System time \(seconds\):\s*([\d.]+)", text)
    cpu = float(u.group(1)) + float(s.group(1)) if u and s else None
    return (int(m.group(1)) * 1024 if m else None), cpu


def _cpu_times() -> tuple[int, int] | None:
    try:
        with open("/proc/stat", encoding="ascii") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v), idle


def busy_before(window: float = 1.0) -> float | None:
    """Share of all CPUs busy (0-100) over ``window`` seconds just before a
    tool starts: other work on this shared machine slows every tool, a
    multi-threaded one more than a single-threaded one. Unlike the load
    average it does not carry over the previous tool's run."""
    a = _cpu_times()
    time.sleep(window)
    b = _cpu_times()
    if a is None or b is None or b[0] == a[0]:
        return None
    return round(100.0 * (1 - (b[1] - a[1]) / (b[0] - a[0])), 1)


def measure(
    cmd: Sequence,
    *,
    env: dict | None = None,
    cwd: str | os.PathLike | None = None,
    poll: float = 0.1,
    capture_stdout: bool = True,
) -> Measurement:
    """Run ``cmd`` to completion; return its wall time and peak memory.

    Wall time is measured here (``time.perf_counter`` around the child's
    whole life). The command is wrapped in ``/usr/bin/time -v`` when that
    exists; its few milliseconds of overhead apply equally to every tool.
    """
    cmd = [str(c) for c in cmd]
    time_file = None
    full = cmd
    method = None
    if os.path.exists(GNU_TIME):
        fd, time_file = tempfile.mkstemp(prefix="lwbench-time-", suffix=".txt")
        os.close(fd)
        full = [GNU_TIME, "-v", "-o", time_file] + cmd
        method = "/usr/bin/time -v"
    before_children = None
    if method is None and psutil is None:
        import resource

        before_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        method = "getrusage(RUSAGE_CHILDREN)"
    elif method is None:
        method = "psutil polling"

    peak_tree = [0]
    # Write back earlier runs' output first (gigabytes, in the encode and
    # join benches): otherwise the kernel's writeback threads compete for
    # the two cores during the timed run, and the file system may still be
    # freeing a deleted output's blocks.
    if hasattr(os, "sync"):
        os.sync()
    load = busy_before()
    start = time.perf_counter()
    proc = subprocess.Popen(
        full,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE if capture_stdout else None,
        stderr=subprocess.PIPE,
        text=True,
    )
    stop = threading.Event()

    def sampler() -> None:
        try:
            root = psutil.Process(proc.pid)
        except psutil.Error:
            return
        while not stop.is_set():
            peak_tree[0] = max(peak_tree[0], _tree_rss(root))
            stop.wait(poll)

    t = None
    if psutil is not None:
        t = threading.Thread(target=sampler, daemon=True)
        t.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    stop.set()
    if t is not None:
        t.join()

    peak = None
    cpu = None
    if time_file is not None:
        try:
            peak, cpu = _parse_gnu_time(Path(time_file).read_text(errors="replace"))
        finally:
            os.unlink(time_file)
    if peak is None and method == "psutil polling":
        peak = peak_tree[0] or None
    if before_children is not None:
        import resource

        after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        # ru_maxrss of RUSAGE_CHILDREN is the maximum over all children so
        # far: only a new maximum can be attributed to this one.
        peak = after * 1024 if after > before_children else None
    tree = peak_tree[0] if psutil is not None else None
    if tree is not None and tree < (peak or 0):
        # The sampler can miss a short peak; never report the tree below the
        # largest single process.
        tree = peak
    return Measurement(cmd, wall, peak, tree, method, proc.returncode, out or "", err or "", cpu, load)


# --------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------


def cpu(m: "Measurement") -> str:
    return "n/a" if m.cpu_s is None else f"{m.cpu_s:.2f}"


def mib(n: int | None) -> str:
    return "n/a" if n is None else f"{n / (1024 * 1024):,.0f} MiB"


def fmt_rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f}" if seconds > 0 else "n/a"


def md_table(headers: Sequence[str], rows: Iterable[Sequence], *, with_machine: bool = True) -> str:
    """A Markdown table; each row gets the machine and date columns."""
    headers = list(headers)
    extra = [machine_line(), today()] if with_machine else []
    if with_machine:
        headers += ["machine", "date"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(str(c) for c in list(r) + extra) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# linkwell
# --------------------------------------------------------------------------


def linkwell_binary(explicit: str | None = None) -> Path:
    """The linkwell binary: --linkwell, $LINKWELL, or this tree's release build."""
    cand = explicit or os.environ.get("LINKWELL") or str(REPO_DIR / "target" / "release" / "linkwell")
    p = Path(cand)
    if not p.is_file() or not os.access(p, os.X_OK):
        found = shutil.which(cand) if os.sep not in cand else None
        if found:
            return Path(found)
        raise BenchError(
            f"linkwell binary {p} not found: build it with `cargo build --release` in {REPO_DIR}, "
            "or pass --linkwell PATH / set LINKWELL=PATH"
        )
    return p


def subcommand_exists(binary: Path, name: str) -> bool:
    """Whether the binary knows subcommand ``name`` (clap reports an
    unrecognised subcommand with exit code 2 and says so)."""
    r = subprocess.run([str(binary), name, "--help"], capture_output=True, text=True)
    if r.returncode == 0:
        return True
    msg = (r.stderr + r.stdout).lower()
    if "unrecognized subcommand" in msg or "unrecognised subcommand" in msg or "unknown subcommand" in msg:
        return False
    raise BenchError(f"`{binary} {name} --help` failed unexpectedly (exit {r.returncode}): {r.stderr.strip()}")


def keygen(binary: Path, path: Path) -> Path:
    """A fresh linkwell key at ``path`` (an existing key there is reused)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        r = subprocess.run([str(binary), "keygen", "--out", str(path)], capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchError(f"linkwell keygen failed: {r.stderr.strip()}")
    return path


def read_secret(path: Path) -> bytes:
    """The secret bytes of a linkwell key file (hex, surrounding whitespace
    allowed), as linkwell reads them."""
    text = path.read_text(encoding="ascii").strip()
    try:
        return bytes.fromhex(text)
    except ValueError as e:
        raise BenchError(f"key file {path} is not hex: {e}") from None


NHS_ONLY_SCHEMA = 'id_column = "id"\n[[field]]\ncolumn = "nhs_number"\nkind = "nhs_number"\n'


def write_nhs_only_schema(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(NHS_ONLY_SCHEMA, encoding="utf-8")
    return path


def versions(binary: Path | None = None, modules: Sequence[str] = ()) -> str:
    """One line naming the versions benchmarked: linkwell (``--version`` and
    the git commit of this tree), Python, and each named Python package."""
    parts = []
    if binary is not None:
        r = subprocess.run([str(binary), "--version"], capture_output=True, text=True)
        v = (r.stdout.strip() or "linkwell ?").replace("\n", " ")
        g = subprocess.run(["git", "-C", str(REPO_DIR), "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True)
        if g.returncode == 0:
            v += f" (commit {g.stdout.strip()})"
        parts.append(v)
    parts.append(f"Python {platform.python_version()}")
    if modules:
        from importlib import metadata

        for m in modules:
            try:
                parts.append(f"{m} {metadata.version(m)}")
            except metadata.PackageNotFoundError:
                parts.append(f"{m} (not installed)")
    return ", ".join(parts)


def python_cmd() -> list:
    """The interpreter running this script (the bench venv's, normally)."""
    return [sys.executable]


if __name__ == "__main__":
    print(machine_line(), today())
    m = measure(["python3", "-c", "x = bytearray(50 * 1024 * 1024); print(len(x))"])
    print(f"smoke: wall {m.wall_s:.3f}s peak {mib(m.peak_rss)} tree {mib(m.peak_tree_rss)} via {m.rss_method}")
