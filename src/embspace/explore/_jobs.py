"""Maps drawn from the page: one background thread works through the requests in order, and the
page polls each job's progress."""

from __future__ import annotations

import itertools
import queue
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field

from ..errors import EmbspaceError
from ._served import ServedSpace

MAX_JOBS_KEPT = 50


@dataclass
class Job:
    """A map being drawn: its request, state ("queued", "running", "done", "failed") and progress."""

    id: int
    space: int
    key: str
    method: str
    dims: int
    sample: int | None
    seed: int | None
    params: dict = field(default_factory=dict)
    point_trust: str = "auto"
    state: str = "queued"
    fraction: float = 0.0
    message: str = "waiting for the jobs before it"
    error: str | None = None
    started: float | None = None
    finished: float | None = None
    created: float = field(default_factory=time.time)

    def as_dict(self) -> dict:
        out = asdict(self)
        end = self.finished or time.time()
        out["seconds"] = round(end - self.started, 1) if self.started else 0.0
        return out


class Jobs:
    """Queue of map requests run one at a time (drawing maps is CPU-bound; two at once would only
    share the cores). A request for a map already queued or running returns that job."""

    def __init__(self):
        self._lock = threading.Lock()
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None

    def submit(
        self,
        served: ServedSpace,
        method: str,
        dims: int,
        sample: int | None,
        seed: int | None,
        params: dict | None = None,
        point_trust: str = "auto",
    ) -> Job:
        """Queue a map of `served` (checked first: a bad request raises here, not in the thread).

        `params` go to the method (e.g. ``{"perplexity": 50}``); ``point_trust="all"`` also measures
        every point's trust (and completes that of a cached map drawn without it).
        """
        from ..reduce._map import plan_map
        from ..store import read_manifest

        manifest = read_manifest(served.path)
        if point_trust not in ("auto", "all"):
            raise EmbspaceError(f"point_trust must be 'auto' or 'all'; got {point_trust!r}")
        params = dict(params or {})
        plan = plan_map(method, dims, sample, seed, params, manifest["n"], manifest.get("metric", "cosine"))
        with self._lock:
            for job in self._jobs.values():
                if (
                    job.space == served.index
                    and job.key == plan.key
                    and job.point_trust == point_trust
                    and job.state in ("queued", "running")
                ):
                    return job
            job = Job(next(self._ids), served.index, plan.key, method, dims, sample, seed, params, point_trust)
            self._jobs[job.id] = job
            self._trim()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="embspace-maps", daemon=True)
                self._thread.start()
        self._queue.put((job, served))
        return job

    def get(self, job_id: int) -> Job:
        with self._lock:
            if job_id not in self._jobs:
                raise EmbspaceError(f"no job {job_id}")
            return self._jobs[job_id]

    def all(self) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.id)

    def _trim(self) -> None:
        finished = [j for j in self._jobs.values() if j.state in ("done", "failed")]
        for job in sorted(finished, key=lambda j: j.id)[: max(0, len(self._jobs) - MAX_JOBS_KEPT)]:
            del self._jobs[job.id]

    def _work(self) -> None:
        while True:
            job, served = self._queue.get()
            self._run(job, served)

    def _run(self, job: Job, served: ServedSpace) -> None:
        from ..reduce import get_or_make_map

        def progress(fraction: float, message: str) -> None:
            job.fraction, job.message = min(max(float(fraction), 0.0), 1.0), str(message)

        job.state, job.started, job.message = "running", time.time(), "starting"
        try:
            m = get_or_make_map(
                served.path,
                job.method,
                job.dims,
                job.sample,
                job.seed,
                progress,
                point_trust=job.point_trust,
                **job.params,
            )
            served.forget_map(m.key)
            job.key, job.state, job.fraction, job.message = m.key, "done", 1.0, "done"
        except EmbspaceError as exc:
            job.state, job.error = "failed", str(exc)
        except Exception as exc:  # noqa: BLE001 - reported to the page, which has no other way to know
            job.state, job.error = "failed", f"{exc.__class__.__name__}: {exc}"
            traceback.print_exc()
        finally:
            job.finished = time.time()
