"""The app's local workers: `FUSION_LAB_MAX_JOBS` worker processes, kept alive, gone with the app.

The Streamlit server calls `start_pool()` once. A supervisor thread spawns
`python -m fusion_core worker --parent-pid <this pid> --slot <k>` for every slot and spawns a
worker again when one dies (after a pause that grows when it keeps dying young). Workers leave with
the app three ways: the pool terminates them when this process exits normally, the kernel signals
them when it is killed (they ask for that signal, which follows the thread that spawned them,
hence one long-lived supervisor thread), and each checks os.getppid() every poll. A slot is a
locked file under the data home, so a restart never runs two workers in one slot.
"""

from __future__ import annotations

import atexit
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Self

from fusion_core.worker import EXIT_SLOT_TAKEN

log = logging.getLogger(__name__)

MAX_JOBS_ENV = "FUSION_LAB_MAX_JOBS"
MAX_JOBS_LIMIT = 16  # each worker holds a model and a copy of MNIST in memory
SLOT_RETRY_SECONDS = 2.0  # a slot still held by a worker of the previous server: try again soon
YOUNG_SECONDS = 10.0  # a worker that dies younger than this is restarted after a growing pause
MAX_BACKOFF_SECONDS = 30.0
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def parse_max_jobs(raw: str | None) -> tuple[int, str | None]:
    """(number of workers, a message when `raw` was unusable and 1 is used instead)."""
    if raw is None or not raw.strip():
        return 1, None
    text = raw.strip()
    if text.isdigit() and 1 <= int(text) <= MAX_JOBS_LIMIT:
        return int(text), None
    return 1, (
        f"{MAX_JOBS_ENV} must be a whole number from 1 to {MAX_JOBS_LIMIT} (training jobs at once). "
        f"Received: {MAX_JOBS_ENV}={raw!r}. Using 1."
    )


class WorkerPool:
    """Keeps `count` worker processes running for this process."""

    def __init__(self, count: int, *, check_seconds: float = 1.0):
        self.count = count
        self.check_seconds = check_seconds
        self._procs: dict[int, subprocess.Popen] = {}
        self._started_at: dict[int, float] = {}
        self._next_try: dict[int, float] = {}
        self._backoff: dict[int, float] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name="fusion-worker-pool", daemon=True)

    def start(self) -> Self:
        self._thread.start()
        atexit.register(self.stop)
        return self

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs.values() if p.poll() is None]

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the workers (each marks its run interrupted) and stop respawning them."""
        self._stopping.set()
        procs = list(self._procs.values())
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in procs:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            for slot in range(self.count):
                try:
                    self._tend(slot)
                except Exception as exc:  # never let the supervisor thread die: workers follow it
                    log.error("worker slot %s: %s", slot, exc)
            self._stopping.wait(self.check_seconds)

    def _tend(self, slot: int) -> None:
        proc, now = self._procs.get(slot), time.monotonic()
        if proc is not None and proc.poll() is None:
            return
        if proc is not None:  # it ended: decide when to try again
            del self._procs[slot]
            code = proc.returncode
            if code == EXIT_SLOT_TAKEN:
                delay = SLOT_RETRY_SECONDS
            elif now - self._started_at[slot] < YOUNG_SECONDS:
                delay = self._backoff[slot] = min(
                    max(self._backoff.get(slot, 0.5) * 2, 1.0), MAX_BACKOFF_SECONDS
                )
                log.warning(
                    "worker in slot %s exited with status %s; starting another in %.0f s", slot, code, delay
                )
            else:
                delay = self._backoff[slot] = 0.0
                log.warning("worker in slot %s exited with status %s; starting another", slot, code)
            self._next_try[slot] = now + delay
        if now < self._next_try.get(slot, 0.0) or self._stopping.is_set():
            return
        self._procs[slot] = self._spawn(slot)
        self._started_at[slot] = now

    def _spawn(self, slot: int) -> subprocess.Popen:
        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p)
        command = [
            sys.executable,
            "-m",
            "fusion_core",
            "worker",
            "--parent-pid",
            str(os.getpid()),
            "--slot",
            str(slot),
        ]
        return subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL)


_pool: WorkerPool | None = None
_pool_lock = threading.Lock()


def start_pool(count: int) -> WorkerPool:
    """This process's pool, started on the first call; later calls return the same one."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = WorkerPool(count).start()
        return _pool
