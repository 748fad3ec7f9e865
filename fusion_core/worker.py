"""A worker: claims queued jobs from the run store one at a time and trains them.

`python -m fusion_core worker` runs one. The Streamlit app starts its own (fusion_core.worker_pool),
but any process on a machine that sees the store's file can be one. A worker

- claims the oldest queued job atomically (two workers never get the same one) and hands it to its
  executor (fusion_core.executors: here, or on Ray), which streams the curves to the store;
- writes a heartbeat from a thread of its own every second, so a long tracing step never makes a
  live worker look dead, and on the same thread reads the run's stop flag (setting the event that
  training checks after every batch) and marks the jobs of dead workers interrupted;
- records a job that fails as 'failed' with one line, and keeps going;
- exits with its parent (`--parent-pid`: the kernel's parent-death signal on Linux, and a check of
  os.getppid() every poll), marking the run it was training interrupted; SIGTERM and SIGINT do the same.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from fusion_core import paths
from fusion_core.config import RunConfig
from fusion_core.executors import Executor, ExecutorError, Job, executor_from_env, run_locally
from fusion_core.jobs import ACTIVE, friendly_error
from fusion_core.store import RunStore, StoreError

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25  # how often an idle worker looks for a job, and a busy one for a stop request
HEARTBEAT_SECONDS = 1.0
SWEEP_SECONDS = 2.0  # how often a worker looks for jobs whose worker died
STORE_RETRY_S = 2.0  # how long a worker waits before it asks an unusable store again
EXIT_SLOT_TAKEN = 3  # another live worker holds this slot
PR_SET_PDEATHSIG = 1
PARENT_GONE = "Interrupted: the app that started its worker stopped."


class Worker:
    """Claims and runs jobs until closed (or idle for `idle_exit` seconds, or after one job with `once`).

    `serve()` blocks; tests run it on a thread of their own process, `main()` in a process of its own.
    """

    def __init__(
        self,
        store: RunStore,
        *,
        execute: Executor = run_locally,
        data_loader: Callable | None = None,
        parent_pid: int | None = None,
        slot: int | None = None,
        idle_exit: float | None = None,
        once: bool = False,
        poll_seconds: float = POLL_SECONDS,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ):
        self.store = store
        self.execute = execute
        self.data_loader = data_loader
        self.parent_pid = parent_pid
        self.slot = slot
        self.idle_exit = idle_exit
        self.once = once
        self.poll_seconds = poll_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.jobs_run = 0
        self.on_parent_gone: Callable[[], None] = self._exit_with_parent
        self._closing = threading.Event()
        self._current: Job | None = None

    # -- the claim loop ----------------------------------------------------------------------------
    def serve(self) -> int:
        """Claim and run jobs until closed; returns how many jobs this worker ran.

        A store that cannot be used is logged in one line, never raised: at start the worker then
        serves nothing; later it waits and tries again (a full disk or a lock can clear).
        """
        try:
            self.store.register_worker(self.id, slot=self.slot)
        except StoreError as exc:
            log.error("worker %s cannot use the run store: %s", self.id, exc)
            return 0
        beat = threading.Thread(target=self._beat, name=f"fusion-heartbeat-{self.id}", daemon=True)
        beat.start()
        try:
            self._report_device()
            idle_since = time.monotonic()
            while not self._closing.is_set():
                try:
                    claimed = self.store.claim_job(self.id)
                except StoreError as exc:
                    log.warning("worker %s cannot claim a job now: %s", self.id, exc)
                    self._closing.wait(STORE_RETRY_S)
                    continue
                if claimed is None:
                    if self.idle_exit is not None and time.monotonic() - idle_since >= self.idle_exit:
                        break
                    self._closing.wait(self.poll_seconds)
                    continue
                self._run(claimed)
                idle_since = time.monotonic()
                if self.once:
                    break
        finally:
            self._closing.set()
            beat.join(timeout=5)
            try:
                self.store.unregister_worker(self.id)
            except StoreError as exc:  # its row ages out: list_workers reads fresh heartbeats only
                log.warning("worker %s could not sign off: %s", self.id, exc)
        return self.jobs_run

    def close(self, *, stop_current: bool = True) -> None:
        """Ask `serve()` to return: at once when idle, after the current job (stopped if asked) when busy."""
        job = self._current
        if stop_current and job is not None:
            job.stop_event.set()
        self._closing.set()

    @property
    def current_run(self) -> int | None:
        job = self._current
        return job.run_id if job is not None else None

    def _report_device(self) -> None:
        """The backend and device this worker trains on, for the app's sidebar (imports Keras)."""
        try:
            from fusion_core.device import device_info

            info = device_info()
            self.store.set_worker_device(self.id, backend=info["backend"], device=info["device"])
        except Exception as exc:  # the jobs will say what is wrong; the worker still serves
            log.warning("worker %s cannot tell its device: %s", self.id, exc)

    def _run(self, claimed: dict[str, Any]) -> str:
        run_id = claimed["id"]
        try:
            config = RunConfig.from_dict(claimed["config"])
        except Exception as exc:  # a row written by another version, say
            self._finish_failed(run_id, f"Its configuration cannot be read: {friendly_error(exc)}")
            return "failed"
        job = Job(run_id=run_id, config=config, store=self.store, data_loader=self.data_loader)
        if claimed.get("stop_requested"):
            job.stop_event.set()
        self._current = job
        try:
            status = self.execute(job)
        except Exception as exc:  # the executor itself broke: the run says why, the worker goes on
            log.error("run %s failed in worker %s:\n%s", run_id, self.id, traceback.format_exc())
            status = "failed"
            self._finish_failed(run_id, friendly_error(exc))
        finally:
            self._current = None
            self.jobs_run += 1
        run = self.store.get_run(run_id)
        if run is not None and run["status"] in ACTIVE:  # never leave a run 'running' behind
            self.store.interrupt(run_id, "Interrupted: training ended without recording a result.")
            status = "interrupted"
        return status

    def _finish_failed(self, run_id: int, error: str) -> None:
        try:
            run = self.store.get_run(run_id)
            if run is not None and run["status"] in ACTIVE:
                self.store.finish(run_id, "failed", error=error)
        except Exception as exc:  # a full disk, say: at least stop it from looking alive
            log.error("cannot record the failure of run %s: %s", run_id, exc)
            self.store.interrupt(run_id, f"Failed: {error}")

    # -- the heartbeat thread ------------------------------------------------------------------------
    def _beat(self) -> None:
        last_beat = last_sweep = float("-inf")
        while not self._closing.is_set():
            try:
                now = time.monotonic()
                job = self._current
                if now - last_beat >= self.heartbeat_seconds:
                    self.store.worker_heartbeat(self.id, job.run_id if job is not None else None)
                    last_beat = now
                if job is not None and not job.stop_event.is_set() and self.store.stop_requested(job.run_id):
                    job.stop_event.set()  # training stops after its current batch
                if now - last_sweep >= SWEEP_SECONDS:
                    self.store.mark_interrupted_orphans()
                    last_sweep = now
                if self.parent_pid is not None and os.getppid() != self.parent_pid:
                    self.on_parent_gone()
            except Exception as exc:  # a locked or briefly unreadable store: try again next time
                log.warning("worker %s heartbeat: %s", self.id, exc)
            self._closing.wait(self.poll_seconds)

    def abandon(self, reason: str) -> None:
        """Mark the run in training interrupted and remove this worker's row (before exiting)."""
        job = self._current
        try:
            if job is not None:
                self.store.interrupt(job.run_id, reason)
            self.store.unregister_worker(self.id)
        except Exception as exc:
            log.error("worker %s could not record its exit: %s", self.id, exc)

    def _exit_with_parent(self) -> None:
        self.abandon(PARENT_GONE)
        os._exit(0)


# -- the process -----------------------------------------------------------------------------------


def die_with_parent() -> None:
    """Ask Linux to send SIGTERM when the parent exits, even if it is killed (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError) as exc:  # the getppid() check in the heartbeat still applies
        log.warning("cannot ask for a parent-death signal: %s", exc)


def take_slot(slot: int, home: Path | None = None) -> IO[str] | None:
    """Lock slot file `slot` under the data home; None when a live worker holds it.

    The lock lives as long as the open file, so it is released when the worker dies, however it
    dies: an app that restarts gets its slots back and never runs two workers in one slot.
    """
    folder = (home or paths.home_dir()) / "workers"
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / f"slot-{slot}.lock", "a+")  # noqa: SIM115 - held for the process's life
    try:
        import fcntl
    except ImportError:  # Windows: no slot locks, the parent's own bookkeeping still applies
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `worker` subcommand's options (fusion_core.cli adds the subcommand)."""
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this process exits")
    parser.add_argument("--slot", type=int, default=None, help="hold this worker slot (one worker per slot)")
    parser.add_argument("--idle-exit", type=float, default=None, help="exit after this many idle seconds")
    parser.add_argument("--once", action="store_true", help="exit after one job")


def main(args: argparse.Namespace) -> int:
    """Run a worker in this process until it is told to stop; the exit status."""
    if args.parent_pid is not None:
        die_with_parent()
        if os.getppid() != args.parent_pid:  # the parent died before the signal was asked for
            return 0
    slot_lock = None
    if args.slot is not None:
        slot_lock = take_slot(args.slot)
        if slot_lock is None:
            print(f"worker slot {args.slot} is held by another live worker; exiting", file=sys.stderr)
            return EXIT_SLOT_TAKEN
    try:
        execute = executor_from_env()
    except ExecutorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        store = RunStore()
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    worker = Worker(
        store,
        execute=execute,
        parent_pid=args.parent_pid,
        slot=args.slot,
        idle_exit=args.idle_exit,
        once=args.once,
    )

    def on_signal(signum: int, frame: Any) -> None:
        if args.parent_pid is not None and os.getppid() != args.parent_pid:  # the parent-death signal
            worker.abandon(PARENT_GONE)
        else:
            worker.abandon(f"Interrupted: its worker was stopped ({signal.Signals(signum).name}).")
        os._exit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # Jobs train on a thread, so this main thread stays free to handle a signal at once.
    serving = threading.Thread(target=worker.serve, name="fusion-worker", daemon=True)
    serving.start()
    while serving.is_alive():
        serving.join(0.5)
    del slot_lock
    return 0
