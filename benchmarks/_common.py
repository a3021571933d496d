"""Helpers shared by the benchmark scripts: machine description, medians, tables, memory."""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable


def machine() -> dict:
    """CPU model and count, Python, numpy and BLAS (threadpoolctl if installed), date."""
    import numpy as np

    model = platform.processor() or ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    blas = "unknown (pip install threadpoolctl to report it)"
    try:
        from threadpoolctl import threadpool_info

        libs = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if libs:
            i = libs[0]
            blas = (
                f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, "
                f"{i.get('num_threads')} threads, {os.path.basename(i.get('filepath', ''))})"
            )
    except ImportError:
        pass
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
        "platform": platform.platform(),
        "loadavg_at_start": loadavg(),
        "embspace": embspace_source(),
    }


def embspace_source() -> str:
    """Where the embspace being measured comes from, and its git commit if it is in a checkout."""
    import embspace

    where = os.path.dirname(os.path.dirname(os.path.abspath(embspace.__file__)))
    try:
        commit = subprocess.run(
            ["git", "-C", where, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", where, "status", "--porcelain", "--", "."], capture_output=True, text=True, check=True
        ).stdout.strip()
        return f"{embspace.__version__} from {where} at {commit}{' + uncommitted changes' if dirty else ''}"
    except (OSError, subprocess.CalledProcessError):
        return f"{embspace.__version__} from {where} (not a git checkout)"


class OtherLoad:
    """CPU time used by *other* processes between start and stop (Linux /proc/stat).

    The machine may be shared; a benchmark on 2 cores is only as good as the quiet around it.
    """

    def __init__(self):
        self.t0, self.busy0, self.own0 = time.time(), self._busy(), self._own()

    @staticmethod
    def _busy() -> float | None:
        try:
            with open("/proc/stat") as fh:
                f = [int(x) for x in fh.readline().split()[1:]]
        except OSError:
            return None
        idle = f[3] + (f[4] if len(f) > 4 else 0)
        return (sum(f[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def stop(self) -> dict | None:
        busy = self._busy()
        if busy is None or self.busy0 is None:
            return None
        wall = time.time() - self.t0
        other = max(0.0, (busy - self.busy0) - (self._own() - self.own0))
        return {
            "wall_s": round(wall, 1),
            "other_cpu_s": round(other, 1),
            "other_share_of_all_cores": round(other / (wall * (os.cpu_count() or 1)), 3),
        }


def wait_quiet(max_wait_s: float = 600, window_s: float = 10, threshold: float = 0.05) -> dict | None:
    """Block until other processes use under `threshold` of the cores for `window_s` (or give up)."""
    deadline = time.time() + max_wait_s
    while True:
        probe = OtherLoad()
        time.sleep(window_s)
        seen = probe.stop()
        if seen is None or seen["other_share_of_all_cores"] < threshold or time.time() > deadline:
            print(f"# other processes before starting: {seen}", flush=True)
            return seen


def loadavg() -> list[float] | None:
    """1, 5 and 15 minute load averages: other work on the machine skews every timing."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def print_machine(info: dict) -> None:
    print(
        f"# {info['date']} | {info['cores']} cores, {info['cpu']} | Python {info['python']}, "
        f"numpy {info['numpy']} | BLAS {info['blas']} | load average {info['loadavg_at_start']}"
    )
    print(f"# embspace {info['embspace']}")


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def timed(fn: Callable[[], object], reps: int) -> tuple[list[float], object]:
    """Run fn `reps` times; (seconds of each run, result of the last)."""
    times, result = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


def fmt_s(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} us"


def fmt_mb(nbytes: float) -> str:
    return f"{nbytes / 2**20:,.0f} MiB"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table with padded columns."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_memory(fn: Callable[[], object]) -> dict:
    """Peak extra memory of one call of fn: traced Python/numpy allocations and sampled RSS.

    tracemalloc sees every numpy buffer (numpy reports its allocations to it) but not BLAS'
    private work buffers; the RSS high-water mark is sampled every 2 ms from a thread (Linux).
    Run it apart from the timings: both slow things down a little.
    """
    rss_ok = os.path.exists("/proc/self/statm")
    base_rss = _rss() if rss_ok else 0
    peak_rss = [base_rss]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak_rss[0] = max(peak_rss[0], _rss())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    if rss_ok:
        sampler.start()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base_traced = tracemalloc.get_traced_memory()[0]
    try:
        fn()
        peak_traced = tracemalloc.get_traced_memory()[1] - base_traced
    finally:
        tracemalloc.stop()
        stop.set()
        if rss_ok:
            sampler.join()
    if rss_ok:
        peak_rss[0] = max(peak_rss[0], _rss())
    return {"traced_peak_bytes": peak_traced, "rss_peak_extra_bytes": (peak_rss[0] - base_rss) if rss_ok else None}


def python() -> str:
    return sys.executable


def start(space_arg: str | None, wait: bool) -> tuple[str, dict, OtherLoad]:
    """The space to measure (default: the GloVe 6B 50d demo space), the machine facts printed,
    optionally a wait for a quiet machine, and a probe of other processes' CPU from now on."""
    if space_arg:
        space_path = space_arg
    else:
        from embspace.datasets import glove_6b_50d

        space_path = glove_6b_50d().info["path"]
    info = machine()
    print_machine(info)
    if wait:
        info["other_processes_before"] = wait_quiet()
    return space_path, info, OtherLoad()


def start_server(paths: list[str]) -> tuple[subprocess.Popen, str, int]:
    """`embspace serve PATHS --port 0` in a subprocess: (process, host, port) once it says where it listens."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "embspace", "-q", "serve", *map(str, paths), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    match = re.search(r"http://([0-9.]+):(\d+)/", line)
    if not match:
        proc.kill()
        raise SystemExit(f"the server did not start: {line}{proc.stderr.read()}")
    return proc, match.group(1), int(match.group(2))


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
