"""Training jobs: one run from config to stored model, and the job layer the pages use.

A job is a row in the run store. `submit()` adds a queued run; a worker process
(`python -m fusion_core worker`, see fusion_core.worker) claims it, trains it with `run_job()` and
streams its curves to the store; `request_stop()` sets a flag the worker reads within a fraction of
a second; `job_state()` reads status, queue position and progress back from the store alone. So a
page never holds a training thread: it submits and polls. `reuse_or_submit()` is the one place that
decides whether a configuration needs training at all. Everything a run produces goes to the store
as it happens, so a refresh, a stop or a crash loses nothing that was already measured.
"""

from __future__ import annotations

import errno
import logging
import os
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
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
            config,
            data_loader,
            on_event=handle,
            stop_event=stop_event,
            on_trained=lambda epochs: mark_trained(store, run_id, epochs),
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


def mark_trained(store: RunStore, run_id: int, epochs: float) -> None:
    """Record that training ended (a page shows "stopped" from then on); never raising: the run's
    final record, written by `finish()` after scoring, is what must not be lost."""
    try:
        store.mark_trained(run_id, epochs)
    except Exception:  # noqa: BLE001 - a locked store: the page waits for the final status instead
        log.warning("run %s: could not record the end of its training", run_id, exc_info=True)


def replace_atomically(path: Path, write: Callable[[str], Any]) -> Path:
    """`write(tmp)` to a temporary file next to `path`, then rename it into place.

    A failed write (a full disk) leaves no partial file, and a reader never sees half a model.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}_", suffix=".keras", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_model_atomically(model, path: Path) -> Path:
    """Save a Keras model with `replace_atomically`."""
    return replace_atomically(path, model.save)


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
    on_trained: Callable[[float], None] | None = None,
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
    outcome = train(config, data, on_event=on_event, stop_event=stop_event, on_trained=on_trained)
    t1 = time.perf_counter()
    results = evaluate(outcome.model, data.x_test, data.y_test, config.fusion.num_members)
    results.update(
        n_train=int(data.n_train),
        n_val=int(data.n_val),
        epochs_completed=outcome.epochs_completed,
        stopped_early=outcome.stopped_early,
        best_epoch=outcome.best_epoch,
        member_weights=_member_weights(outcome.model),
        head=outcome.head,  # a learned head's fit, or its fallback to the soft vote with the reason
    )
    timings = {
        "data_seconds": round(data_seconds, 3),
        "train_seconds": outcome.train_seconds,
        "seconds_per_epoch": outcome.seconds_per_epoch,
        "head_seconds": (outcome.head or {}).get("seconds", 0.0),
        "evaluate_seconds": round(time.perf_counter() - t1, 3),
    }
    return outcome, results, timings


def _member_weights(model) -> list[float] | None:
    from fusion_core.layers import WeightedAverage

    for layer in model.layers:
        if isinstance(layer, WeightedAverage):
            return [round(float(w), 4) for w in layer.member_weights()]
    return None


# -- the job layer ----------------------------------------------------------------------------------

ACTIVE = ("queued", "running")


def submit(
    store: RunStore,
    config: RunConfig,
    *,
    name: str | None = None,
    kind: str = "train",
    group_id: str | None = None,
) -> int:
    """Store a queued job for the workers; returns its run id at once."""
    config.validate()
    return store.create_job(config.to_dict(), name=name, kind=kind, group_id=group_id)


def request_stop(store: RunStore, run_id: int) -> bool:
    """A queued job ends as stopped at once, a running one stops after its current batch.

    False when the run had already ended (or does not exist).
    """
    try:
        return store.request_stop(run_id)
    except KeyError:
        return False


def job_state(store: RunStore, run_id: int) -> dict[str, Any]:
    """Status, queue position and progress (step, total steps, epoch, seconds left) of a job, with
    `stop_requested` and `trained_epochs` (None until its training ended; then the test set is
    being scored and the status is still 'running').

    Read from the store alone, so any process can follow any job. A running job whose worker is
    gone is marked interrupted here, so a page never waits on a dead worker.
    """
    run = store.get_run(run_id)
    if run is not None and run["status"] == "running" and run.get("worker_id") and store.mark_lost_jobs():
        run = store.get_run(run_id)
    if run is None:
        return {"status": "missing", "queue_position": None, "progress": None,
                "stop_requested": False, "trained_epochs": None}  # fmt: skip
    status = run["status"]
    return {
        "status": status,
        "stop_requested": bool(run.get("stop_requested")),
        "trained_epochs": run.get("trained_epochs"),
        "queue_position": store.queue_position(run_id) if status == "queued" else None,
        "progress": progress_from_row(store.last_metric(run_id), _epochs(run))
        if status != "queued"
        else None,
    }


def active_runs(store: RunStore) -> list[int]:
    """Run ids still queued or running, oldest first."""
    return store.active_run_ids()


def reuse_or_submit(
    store: RunStore,
    config: RunConfig,
    *,
    name: str | None = None,
    kind: str = "train",
    group_id: str | None = None,
) -> tuple[int, bool]:
    """(run id, reused): a done run of exactly this config, else one already queued or running,
    else a newly submitted job. A configuration is never trained twice."""
    found = store.find_done_run(config.to_dict()) or store.find_active_run(config.to_dict())
    if found is not None:
        return found["id"], True
    return submit(store, config, name=name, kind=kind, group_id=group_id), False


def submit_group(
    store: RunStore, points: Sequence[tuple[RunConfig, str]], *, kind: str, group_id: str
) -> list[tuple[int, bool]]:
    """`reuse_or_submit` for every (config, name) of an experiment, in order, under one group id."""
    return [
        reuse_or_submit(store, config, name=name, kind=kind, group_id=group_id) for config, name in points
    ]


def run_here(
    store: RunStore,
    run_id: int,
    *,
    data_loader: DataLoader | None = None,
    stop_event: threading.Event | None = None,
    poll_seconds: float = 0.5,
) -> str:
    """Train submitted job `run_id` in this process, unless a worker has it already; then wait for it.

    For processes that must see a job through (the CLI's sweeps): whichever of them claims a job
    trains it, the others wait. A set `stop_event` stops the job wherever it runs. Returns its status.
    """
    claimed = store.claim_job(None, run_id=run_id)
    if claimed is not None:
        config = RunConfig.from_dict(claimed["config"])
        return run_job(
            config, store, run_id, data_loader=data_loader or default_loader, stop_event=stop_event
        )
    while (run := store.get_run(run_id)) is not None and run["status"] in ACTIVE:
        if stop_event is not None and stop_event.is_set():
            request_stop(store, run_id)
        store.mark_interrupted_orphans()
        time.sleep(poll_seconds)
    return run["status"] if run is not None else "missing"


def _epochs(run: dict) -> int | None:
    return ((run.get("config") or {}).get("training") or {}).get("epochs")


def progress_from_row(row: dict | None, epochs: int | None) -> dict | None:
    """Progress from a run's newest metric row: its epoch (a fraction) and step give the steps per
    epoch, hence the total; the time so far per step gives the time left."""
    if row is None or not row.get("step"):
        return None
    step, epoch, elapsed = int(row["step"]), float(row["epoch"] or 0.0), float(row["elapsed"] or 0.0)
    total = round(step / epoch * epochs) if epoch > 0 and epochs else step
    total = max(total, step)
    return _progress({"step": step, "total_steps": total, "epoch": epoch, "elapsed": elapsed})


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
