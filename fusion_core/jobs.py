"""Training jobs: one run from config to stored model, and a background runner with a queue.

`run_job()` does a whole run synchronously (the CLI uses it). `JobRunner` runs jobs on background
threads so that a page can poll them: at most `max_concurrent` train at once, the rest wait in a
queue whose position can be read. Everything a run produces goes to the run store as it happens,
so a refresh, a stop or a crash loses nothing that was already measured.
"""

from __future__ import annotations

import errno
import logging
import os
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusion_core import paths
from fusion_core.config import RunConfig
from fusion_core.store import RunStore

log = logging.getLogger(__name__)

DataLoader = Callable[[], Any]  # returns fusion_core.data.MnistData


def default_loader():
    from fusion_core.data import load_mnist

    return load_mnist()


FINISH_ATTEMPTS = 3  # a failure is recorded even if the store hiccups (a lock, a moment of full disk)


def model_path_for(run_id: int) -> Path:
    return paths.run_model_path(run_id)


def friendly_error(exc: BaseException) -> str:
    """One line a learner can act on, instead of a traceback."""
    if isinstance(exc, MemoryError):
        return "The computer ran out of memory. Try fewer members, fewer units or a smaller batch size."
    # h5py and zipfile report a full disk as a plain OSError; the text is the one constant
    if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "No space left" in str(exc):
        return "The disk is full, so the run could not be saved. Free some space and train it again."
    name = type(exc).__name__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else name
    return f"{text} ({name})" if name not in text else text


def run_job(
    config: RunConfig,
    store: RunStore,
    run_id: int,
    *,
    data_loader: DataLoader = default_loader,
    stop_event: threading.Event | None = None,
    on_event: Callable[[dict], None] | None = None,
) -> str:
    """Train, evaluate, save and record run `run_id`. Returns its final status.

    Failures are recorded on the run (status 'failed', with a one-line reason) rather than raised,
    and the curves measured before the failure stay in the store.
    """
    from fusion_core.device import device_info
    from fusion_core.train import event_rows

    try:
        info = device_info()
        store.mark_running(run_id, backend=info["backend"], device=info["device"])

        def handle(event: dict) -> None:
            store.append_metrics(run_id, event_rows(event))
            if on_event is not None:
                on_event(event)

        outcome, results, timings = train_and_evaluate(
            config, data_loader, on_event=handle, stop_event=stop_event
        )
        path = save_model_atomically(outcome.model, model_path_for(run_id))
        results["model_bytes"] = path.stat().st_size
        store.set_model_path(run_id, str(path))
        store.finish(run_id, outcome.status, results=results, timings=timings)
        return outcome.status
    except Exception as exc:  # recorded on the run; the page shows the reason
        log.error("run %s failed:\n%s", run_id, traceback.format_exc())
        _discard_model(run_id)  # a model whose run is not 'done' must not look usable
        record_failure(store, run_id, friendly_error(exc))
        return "failed"


def save_model_atomically(model, path: Path) -> Path:
    """Save to a temporary file next to `path`, then rename: a failed save leaves no partial file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}_", suffix=".keras", dir=path.parent)
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _discard_model(run_id: int) -> None:
    try:
        model_path_for(run_id).unlink(missing_ok=True)
    except OSError:
        log.warning("run %s: could not remove its model file", run_id, exc_info=True)


def record_failure(store: RunStore, run_id: int, reason: str) -> bool:
    """Mark the run 'failed' with its reason, never raising: the caller is a job thread or the CLI.

    The full record is tried a few times (a store lock or a full disk can clear); if it still
    cannot be written the error is logged and False returned. A run left 'running' that way is
    marked 'interrupted' by the next process that opens the store.
    """
    for attempt in range(FINISH_ATTEMPTS):
        try:
            store.finish(run_id, "failed", error=reason[:500])
            return True
        except Exception:  # noqa: BLE001 - whatever the store says, the caller must survive
            log.warning("run %s: recording its failure failed (try %d)", run_id, attempt + 1, exc_info=True)
            if attempt + 1 < FINISH_ATTEMPTS:
                time.sleep(0.2 * (attempt + 1))
    log.error("run %s: could not record its failure (%s); it stays as it was in the store", run_id, reason)
    return False


def train_and_evaluate(
    config: RunConfig,
    data_loader: DataLoader,
    *,
    on_event: Callable[[dict], None] | None = None,
    stop_event: threading.Event | None = None,
) -> tuple[Any, dict, dict]:
    """Load and split the data, train and evaluate: (TrainOutcome, results, timings), nothing stored.

    The part of a run that needs Keras and the data, shared by `run_job` and the Ray task
    (fusion_core.ray_executor), so a run means the same wherever it trains.
    """
    from fusion_core.data import prepare_data
    from fusion_core.evaluate import evaluate
    from fusion_core.train import train

    t0 = time.perf_counter()
    tc = config.training
    data = prepare_data(data_loader(), tc.train_size, tc.validation_fraction, tc.seed)
    data_seconds = time.perf_counter() - t0
    outcome = train(config, data, on_event=on_event, stop_event=stop_event)
    t1 = time.perf_counter()
    results = evaluate(outcome.model, data.x_test, data.y_test, config.fusion.num_members)
    results.update(
        n_train=int(data.n_train),
        n_val=int(data.n_val),
        epochs_completed=outcome.epochs_completed,
        stopped_early=outcome.stopped_early,
        best_epoch=outcome.best_epoch,
        member_weights=_member_weights(outcome.model),
    )
    timings = {
        "data_seconds": round(data_seconds, 3),
        "train_seconds": outcome.train_seconds,
        "seconds_per_epoch": outcome.seconds_per_epoch,
        "evaluate_seconds": round(time.perf_counter() - t1, 3),
    }
    return outcome, results, timings


def _member_weights(model) -> list[float] | None:
    from fusion_core.layers import WeightedAverage

    for layer in model.layers:
        if isinstance(layer, WeightedAverage):
            return [round(float(w), 4) for w in layer.member_weights()]
    return None


@dataclass
class Job:
    run_id: int
    config: RunConfig
    stop_event: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    status: str = "queued"
    last_event: dict | None = None
    started_at: float | None = None


class JobRunner:
    """Runs training jobs on background threads, `max_concurrent` at a time, in submission order."""

    def __init__(
        self,
        store: RunStore | None = None,
        *,
        max_concurrent: int = 1,
        data_loader: DataLoader | None = None,
    ):
        self.store = store or RunStore()
        self.max_concurrent = max(1, max_concurrent)
        self.data_loader = data_loader  # None: fusion_core.jobs.default_loader, looked up per job
        self._lock = threading.Condition()
        self._queue: list[Job] = []
        self._jobs: dict[int, Job] = {}
        self._running = 0

    def submit(
        self, config: RunConfig, *, name: str | None = None, kind: str = "train", group_id: str | None = None
    ) -> int:
        """Store a queued run and schedule it; returns the run id at once."""
        config.validate()
        run_id = self.store.create_run(config.to_dict(), name=name, kind=kind, group_id=group_id)
        job = Job(run_id=run_id, config=config)
        with self._lock:
            self._jobs[run_id] = job
            self._queue.append(job)
            self._start_waiting()
        return run_id

    def _start_waiting(self) -> None:
        while self._queue and self._running < self.max_concurrent:
            job = self._queue.pop(0)
            self._running += 1
            job.status = "running"
            job.started_at = time.time()
            threading.Thread(
                target=self._work, args=(job,), name=f"fusion-job-{job.run_id}", daemon=True
            ).start()

    def _work(self, job: Job) -> None:
        def remember(event: dict) -> None:
            job.last_event = event

        try:
            job.status = run_job(
                job.config,
                self.store,
                job.run_id,
                data_loader=self.data_loader or default_loader,
                stop_event=job.stop_event,
                on_event=remember,
            )
        finally:
            with self._lock:
                self._running -= 1
                job.finished.set()
                self._start_waiting()
                self._lock.notify_all()

    def stop(self, run_id: int) -> bool:
        """Ask a job to stop: a queued one is dropped, a running one stops after its current batch."""
        with self._lock:
            job = self._jobs.get(run_id)
            if job is None or job.finished.is_set():
                return False
            job.stop_event.set()
            if job in self._queue:
                self._queue.remove(job)
                job.status = "stopped"
                job.finished.set()
                self.store.finish(run_id, "stopped", error="Stopped before it started.")
        return True

    def queue_position(self, run_id: int) -> int | None:
        """1 for the next job to start; None when the job is not waiting."""
        with self._lock:
            for i, job in enumerate(self._queue):
                if job.run_id == run_id:
                    return i + 1
        return None

    def state(self, run_id: int) -> dict:
        """Status, queue position and progress (step, total steps, seconds left) of a job.

        For a run this runner does not know (another process, or before a restart) the store's
        status is returned.
        """
        job = self._jobs.get(run_id)
        if job is None:
            run = self.store.get_run(run_id)
            return {"status": run["status"] if run else "missing", "queue_position": None, "progress": None}
        status = job.status if not job.finished.is_set() else self.store.get_run(run_id)["status"]
        return {
            "status": status,
            "queue_position": self.queue_position(run_id),
            "progress": _progress(job.last_event),
        }

    def active(self) -> list[int]:
        """Run ids still queued or running, oldest first."""
        with self._lock:
            return [rid for rid, job in self._jobs.items() if not job.finished.is_set()]

    def wait(self, run_id: int, timeout: float | None = None) -> str:
        job = self._jobs[run_id]
        job.finished.wait(timeout)
        return self.state(run_id)["status"]


def _progress(event: dict | None) -> dict | None:
    if event is None:
        return None
    step, total, elapsed = event["step"], event["total_steps"], event["elapsed"]
    left = elapsed / step * (total - step) if step else None
    return {
        "step": step,
        "total_steps": total,
        "epoch": event["epoch"],
        "elapsed": elapsed,
        "seconds_left": round(left, 1) if left is not None else None,
        "fraction": min(step / total, 1.0) if total else 0.0,
    }
