"""Run jobs as Ray tasks: on a local Ray started on demand, or on a cluster when RAY_ADDRESS is set.

The process that calls `run_on_ray` is the driver and owns the run store (a worker process or the
CLI, never the Streamlit server). Each job is one Ray task that loads MNIST on its node, trains,
evaluates and returns its results with the trained model as bytes. While it trains, its events
travel back through a small actor (one per driver process, shared by its jobs); the driver drains
them into the store and passes a stop request back the same way, which the task checks after
every batch.

Ray is imported here only, inside functions: the embedded default never needs it installed.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fusion_core import jobs
from fusion_core.config import RunConfig
from fusion_core.executors import EXECUTOR_ENV
from fusion_core.store import RunStore

log = logging.getLogger(__name__)

CPUS_ENV = "FUSION_LAB_RAY_CPUS"  # CPUs a job reserves on its node (default 1)
GPUS_ENV = "FUSION_LAB_RAY_GPUS"  # GPUs a job reserves on its node (default 0; 0.5 shares one)
TRAINED = "trained_epochs"  # the event key of the end-of-training marker a task sends
POLL_S = 0.2  # how often the driver drains events and forwards a stop request
HEARTBEAT_S = 2.0  # how often the driver touches the run's heartbeat while its task trains
_STOP_POLL_S = 0.1  # how often a task asks the channel whether a stop was requested

_init_lock = threading.Lock()
_channel = None  # this driver's event channel (a Ray actor handle), made on first use


class RayUnavailable(RuntimeError):
    """Ray is not installed, or the cluster cannot be reached."""


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise ValueError(f"{name} must be a number of at least 0. Received: {raw!r}")
    return value


def ensure_ray(*, num_cpus: int | None = None) -> Any:
    """Connect this process to Ray once and return the `ray` module.

    With $RAY_ADDRESS set, joins that cluster; otherwise starts a local Ray with `num_cpus` CPUs
    (default: all of this machine's) and no dashboard. The fusion_core package travels with the
    job (runtime_env py_modules), so a node needs the same Python packages but not this checkout.
    Raises RayUnavailable with one line when Ray is missing or the cluster does not answer.
    """
    try:
        import ray
    except ImportError:
        raise RayUnavailable(
            "Ray is not installed; install it with `pip install -r requirements.txt` "
            f"or set {EXECUTOR_ENV}=local"
        ) from None
    with _init_lock:
        if ray.is_initialized():
            return ray
        runtime_env = {
            "py_modules": [str(Path(__file__).resolve().parent)],
            "env_vars": {"TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")},
        }
        # Keep stdout clean for `--json`: worker output stays in Ray's log files.
        common = {"runtime_env": runtime_env, "log_to_driver": False, "logging_level": logging.WARNING}
        address = os.environ.get("RAY_ADDRESS", "").strip()
        if address:
            _check_reachable(address)
        try:
            if address:
                ray.init(address=address, **common)
            else:
                # "local": a fresh Ray of our own, even if `ray start` runs on this machine
                ray.init(
                    address="local", num_cpus=num_cpus or os.cpu_count(), include_dashboard=False, **common
                )
        except Exception as exc:
            where = f"the Ray cluster at {address}" if address else "a local Ray"
            hint = (
                "; with token authentication set RAY_AUTH_MODE=token here and copy the head's"
                " ~/.ray/auth_token to this machine"
                if address
                else ""
            )
            raise RayUnavailable(f"Could not connect to {where}: {jobs.friendly_error(exc)}{hint}") from None
    return ray


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a head that does not answer: `ray.init` would retry for minutes."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return  # 'auto', or a ray:// client address: left to Ray
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise RayUnavailable(
            f"Nothing answers at RAY_ADDRESS={address} ({exc.strerror or type(exc).__name__}); start the head"
            " there with `ray start --head --port=6379`, or unset RAY_ADDRESS to train on a local Ray"
        ) from None


def shutdown() -> None:
    """Disconnect from Ray (and stop the local Ray this process started)."""
    global _channel
    import ray

    with _init_lock:
        _channel = None
        if ray.is_initialized():
            ray.shutdown()


# -- the channel between a driver and its tasks ---------------------------------------------------


class _Channel:
    """Events and stop flags of the jobs of one driver, keyed by run id (a Ray actor)."""

    def __init__(self) -> None:
        self.events: dict[int, list[tuple[list[dict], dict]]] = {}  # (store rows, event)
        self.started: dict[int, dict] = {}
        self.stops: set[int] = set()

    def start(self, run_id: int, info: dict) -> None:
        self.started[run_id] = info

    def put(self, run_id: int, item: tuple[list[dict], dict]) -> None:
        self.events.setdefault(run_id, []).append(item)

    def drain(self, run_id: int) -> tuple[dict | None, list[tuple[list[dict], dict]]]:
        """(the task's device info once it has started, the events since the last drain)."""
        return self.started.get(run_id), self.events.pop(run_id, [])

    def request_stop(self, run_id: int) -> None:
        self.stops.add(run_id)

    def stop_requested(self, run_id: int) -> bool:
        return run_id in self.stops

    def forget(self, run_id: int) -> None:
        self.events.pop(run_id, None)
        self.started.pop(run_id, None)
        self.stops.discard(run_id)


def _get_channel(ray: Any) -> Any:
    """This driver's channel actor, placed on the driver's node so events travel one hop."""
    global _channel
    with _init_lock:
        if _channel is None:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
            _channel = ray.remote(num_cpus=0, scheduling_strategy=here)(_Channel).remote()
        return _channel


# -- the task -----------------------------------------------------------------------------------


def _train_task(config_dict: dict, run_id: int, channel: Any, data_loader: jobs.DataLoader | None) -> dict:
    """Runs on a Ray node: train and evaluate one run; the model comes back as .keras bytes.

    Never raises for a training failure: the result then holds a one-line `error`.
    """
    import traceback

    import ray

    from fusion_core.device import device_info
    from fusion_core.train import event_rows

    stop = threading.Event()
    done = threading.Event()

    def watch_stop() -> None:  # a thread, so a batch never waits on a round trip to the driver
        while not done.wait(_STOP_POLL_S):
            try:
                if ray.get(channel.stop_requested.remote(run_id)):
                    stop.set()
                    return
            except Exception:  # the driver is gone: nobody can store this run any more
                stop.set()
                return

    try:
        info = device_info()
        channel.start.remote(run_id, {"backend": info["backend"], "device": info["device"]})
        threading.Thread(target=watch_stop, name=f"fusion-stop-{run_id}", daemon=True).start()
        config = RunConfig.from_dict(config_dict)
        loader = data_loader or jobs.default_loader

        def send(event: dict) -> None:  # flattened here, so the driver never needs Keras
            channel.put.remote(run_id, (event_rows(event), event))

        def trained(epochs: float) -> None:  # no rows: a marker the driver records with mark_trained
            channel.put.remote(run_id, ([], {TRAINED: epochs}))

        outcome, results, timings = jobs.train_and_evaluate(
            config, loader, on_event=send, stop_event=stop, on_trained=trained
        )
        with tempfile.TemporaryDirectory(prefix="fusion-ray-") as tmp:
            path = Path(tmp) / f"run_{run_id}.keras"
            outcome.model.save(path)
            model_bytes = path.read_bytes()
        return {"status": outcome.status, "results": results, "timings": timings, "model": model_bytes}
    except Exception as exc:  # the driver records the reason on the run
        log.error("run %s failed on Ray:\n%s", run_id, traceback.format_exc())
        return {"status": "failed", "error": jobs.friendly_error(exc)}
    finally:
        done.set()
        # A blocking call after the fire-and-forget puts: the channel handles one caller's calls in
        # order, so once this returns every event of this task is there for the last drain.
        try:
            ray.get(channel.stop_requested.remote(run_id))
        except Exception:
            pass


# -- the driver ---------------------------------------------------------------------------------


def _task_options() -> dict:
    return {"num_cpus": _env_float(CPUS_ENV, 1.0), "num_gpus": _env_float(GPUS_ENV, 0.0), "max_retries": 0}


def _task_failure(exc: BaseException) -> str:
    """One line for a task that Ray could not run to its end (crash, lost node, cancelled)."""
    import ray.exceptions as rex

    if isinstance(exc, rex.RayTaskError) and exc.cause is not None:
        return jobs.friendly_error(exc.cause)
    if isinstance(exc, rex.NodeDiedError | rex.ObjectLostError):
        return "The Ray node running this job went away (NodeDiedError); train it again."
    if isinstance(exc, rex.WorkerCrashedError):
        return "The Ray worker running this job crashed, perhaps out of memory (WorkerCrashedError)."
    if isinstance(exc, rex.TaskCancelledError):
        return "The Ray task was cancelled (TaskCancelledError)."
    return jobs.friendly_error(exc)


def _write_model(run_id: int, model_bytes: bytes) -> Path:
    """Write the model next to the others atomically: a reader never sees half a file."""
    return jobs.replace_atomically(
        jobs.model_path_for(run_id), lambda tmp: Path(tmp).write_bytes(model_bytes)
    )


def run_on_ray(
    config: RunConfig,
    store: RunStore,
    run_id: int,
    *,
    should_stop: Callable[[], bool] | None = None,
    data_loader: jobs.DataLoader | None = None,
    on_event: Callable[[dict], None] | None = None,
) -> str:
    """Run job `run_id` as one Ray task; block until it ends; return 'done', 'stopped' or 'failed'.

    Writes to `store` what `fusion_core.jobs.run_job` writes: mark_running with the task's backend
    and device (when the task starts; until then the run stays queued), metric rows as they
    arrive, results, timings, the model at `model_path_for(run_id)`, and finish. `should_stop` is
    polled a few times a second; a stop reaches the task within about one batch. `data_loader`
    (pickled to the node) replaces loading MNIST there; `on_event` sees each event in the driver.
    Failures, Ray's own included, finish the run as failed with a one-line reason.
    """
    try:
        ray = ensure_ray()
        channel = _get_channel(ray)
        task = ray.remote(**_task_options())(_train_task)
        ref = task.remote(config.to_dict(), run_id, channel, data_loader)
    except Exception as exc:
        return _fail(store, run_id, str(exc) if isinstance(exc, RayUnavailable) else jobs.friendly_error(exc))
    try:
        return _follow(ray, store, run_id, ref, channel, should_stop, on_event)
    except KeyboardInterrupt:
        ray.cancel(ref, force=True)
        _fail(store, run_id, "Interrupted from the keyboard before it finished.")
        raise
    finally:
        try:
            channel.forget.remote(run_id)
        except Exception:
            pass


def _fail(store: RunStore, run_id: int, reason: str) -> str:
    log.info("run %s failed: %s", run_id, reason)  # the reason is on the run; stderr stays one line
    jobs.record_failure(store, run_id, reason)  # never raises: the driver must survive a full disk
    return "failed"


def _follow(ray, store, run_id, ref, channel, should_stop, on_event) -> str:
    """Drain events into the store until the task ends, forwarding a stop request; then store it."""
    started = False
    stop_sent = False
    beat = time.monotonic()

    def drain() -> None:
        nonlocal started
        info, events = ray.get(channel.drain.remote(run_id))
        if info is not None and not started:
            store.mark_running(run_id, backend=info["backend"], device=info["device"])
            started = True
        for rows, event in events:
            if TRAINED in event:
                jobs.mark_trained(store, run_id, event[TRAINED])
                continue
            store.append_metrics(run_id, rows)
            if on_event is not None:
                on_event(event)

    try:
        while True:
            finished, _ = ray.wait([ref], timeout=POLL_S)
            drain()
            if finished:
                break
            if not stop_sent and should_stop is not None and should_stop():
                stop_sent = True
                if not started:  # still waiting for a free slot on the cluster: never start it
                    ray.cancel(ref)
                    store.finish(run_id, "stopped", error="Stopped before it started.")
                    return "stopped"
                channel.request_stop.remote(run_id)
            if started and time.monotonic() - beat > HEARTBEAT_S:
                store.heartbeat(run_id)
                beat = time.monotonic()
        outcome = ray.get(ref)
    except Exception as exc:
        if isinstance(exc, ray.exceptions.RayError):
            return _fail(store, run_id, _task_failure(exc))
        return _fail(store, run_id, jobs.friendly_error(exc))
    if outcome["status"] == "failed":
        return _fail(store, run_id, outcome["error"])
    try:
        path = _write_model(run_id, outcome["model"])
    except OSError as exc:
        return _fail(store, run_id, f"Could not save the trained model: {jobs.friendly_error(exc)}")
    results = outcome["results"]
    results["model_bytes"] = len(outcome["model"])
    try:
        store.set_model_path(run_id, str(path))
        store.finish(run_id, outcome["status"], results=results, timings=outcome["timings"])
    except Exception as exc:  # a store that cannot take the result: a failed run, no orphan model
        path.unlink(missing_ok=True)
        return _fail(store, run_id, jobs.friendly_error(exc))
    return outcome["status"]


def run_many_on_ray(
    jobs_to_run: Sequence[tuple[int, RunConfig]],
    store: RunStore,
    *,
    should_stop: Callable[[], bool] | None = None,
    data_loader: jobs.DataLoader | None = None,
    on_done: Callable[[int, str], None] | None = None,
) -> dict[int, str]:
    """Run several stored runs at once across the cluster; {run_id: final status}.

    Every job is submitted at once (Ray queues what does not fit) and followed by a driver thread
    of its own; `on_done(run_id, status)` is called as each ends, from the calling thread.
    Ctrl+C stops them all within about a batch, records them, and is raised again.
    """
    import queue

    ensure_ray()  # once, here, rather than racing in every thread
    interrupted = threading.Event()

    def stop() -> bool:
        return interrupted.is_set() or (should_stop is not None and should_stop())

    ended: queue.Queue[tuple[int, str]] = queue.Queue()

    def follow(run_id: int, config: RunConfig) -> None:
        status = "failed"
        try:
            status = run_on_ray(config, store, run_id, should_stop=stop, data_loader=data_loader)
        finally:
            ended.put((run_id, status))

    threads = [
        threading.Thread(target=follow, args=(rid, cfg), name=f"fusion-ray-{rid}", daemon=True)
        for rid, cfg in jobs_to_run
    ]
    for t in threads:
        t.start()
    statuses: dict[int, str] = {}
    try:
        while len(statuses) < len(threads):
            run_id, status = ended.get()
            statuses[run_id] = status
            if on_done is not None:
                on_done(run_id, status)
    except KeyboardInterrupt:
        interrupted.set()
        for t in threads:
            t.join()
        raise
    return statuses


def run_size_sweep_on_ray(
    points: Sequence[Any],
    store: RunStore,
    *,
    epochs: int,
    data_loader: jobs.DataLoader | None = None,
    on_point: Callable[[int, int, dict], None] | None = None,
    stop_event: threading.Event | None = None,
    group_id: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> list[dict]:
    """`experiments.run_size_sweep`, with the points not stored yet trained in parallel on Ray.

    The same rows in the same order; `on_point` is called as each point ends (stored points
    first). The driver loads the data once too, to score each run on its training images.
    `data_loader` (pickled to the nodes) replaces MNIST everywhere; None loads MNIST on each node.
    """
    from fusion_core import experiments as ex

    overrides = overrides or {}
    configs = [ex.sweep_config(p.config_name, p.train_size, p.seed, epochs, **overrides) for p in points]
    mnist = (data_loader or jobs.default_loader)()
    group_id = group_id or ex.new_group_id("sweep")
    ensure_ray()  # before any run is created: an unreachable cluster leaves the store as it was
    rows: list[dict | None] = [None] * len(points)
    reported = 0

    def report(i: int, run: dict, reused: bool) -> None:
        nonlocal reported
        rows[i] = ex.sweep_row(points[i], run, reused, mnist)
        reported += 1
        if on_point is not None:
            on_point(reported, len(points), rows[i])

    todo: list[tuple[int, RunConfig]] = []
    index_of: dict[int, int] = {}
    for i, (point, config) in enumerate(zip(points, configs, strict=True)):
        done = store.find_done_run(config.to_dict())
        if done is not None:
            report(i, done, True)
            continue
        name = f"sweep {point.config_name} n={point.train_size} seed {point.seed}"
        run_id = store.create_run(config.to_dict(), name=name, kind="sweep", group_id=group_id)
        todo.append((run_id, config))
        index_of[run_id] = i
    run_many_on_ray(
        todo,
        store,
        should_stop=stop_event.is_set if stop_event is not None else None,
        data_loader=data_loader,
        on_done=lambda run_id, _status: report(index_of[run_id], store.get_run(run_id), False),
    )
    return [row for row in rows if row is not None]
