"""The run store: every run's configuration, status, metrics and results in one SQLite file.

Standard library only, so the UI can read runs without importing Keras. The store is shared by a
Streamlit server, its background training threads and other processes (a CLI, a second server),
so each thread gets its own connection, the file is in WAL mode (readers never block the writer)
and every write is one `BEGIN IMMEDIATE` transaction that waits up to `BUSY_TIMEOUT_S` for the lock
instead of failing. A process that dies mid-run cannot mark its own run as stopped; the next
store that opens notices the dead owner and marks the run 'interrupted' (see
`mark_interrupted_orphans`).
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import logging
import os
import shutil
import socket
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from fusion_core import paths

SCHEMA_VERSION = 3
BUSY_TIMEOUT_S = 10.0
# A worker writes its heartbeat every second from a thread of its own, so tracing or a slow batch
# never delays it; ten seconds without one means the worker is gone.
WORKER_TIMEOUT_S = 10.0
ORPHAN_AFTER_S = 600.0  # a run owned by another host is orphaned after this long without a heartbeat
STATUSES = ("queued", "running", "done", "stopped", "failed", "interrupted")
FINAL_STATUSES = ("done", "stopped", "failed")
SPLITS = ("train", "val", "test")
MAX_NAME_CHARS = 100  # a run name is a label in a table, not a document
# Event fields and their column types; values are coerced so numpy scalars from a trainer store fine.
METRIC_TYPES = {"split": str, "series": str, "step": int, "epoch": float, "seen": int, "elapsed": float,
                "loss": float, "accuracy": float}  # fmt: skip
METRIC_FIELDS = tuple(METRIC_TYPES)

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, kind TEXT NOT NULL DEFAULT 'train',
        group_id TEXT, config_json TEXT NOT NULL, config_key TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('queued','running','done','stopped','failed','interrupted')),
        created_at REAL NOT NULL, started_at REAL, finished_at REAL, backend TEXT, device TEXT,
        owner_pid INTEGER, owner_host TEXT, heartbeat_at REAL, error TEXT, results_json TEXT,
        model_path TEXT, timings_json TEXT)""",
    """CREATE TABLE IF NOT EXISTS metrics (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, seq INTEGER NOT NULL,
        split TEXT NOT NULL CHECK (split IN ('train','val','test')), series TEXT NOT NULL,
        step INTEGER NOT NULL, epoch REAL, seen INTEGER, elapsed REAL, loss REAL, accuracy REAL)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS metrics_run_seq ON metrics (run_id, seq)",
    "CREATE INDEX IF NOT EXISTS runs_config_key ON runs (config_key, status)",
    "CREATE INDEX IF NOT EXISTS runs_group ON runs (group_id)",
)
# Statements that bring a store from the version before each key to that version, in order.
# Version 2: jobs are rows. A queued run with no owner waits for a worker; a worker claims it
# (worker_id), a stop request is a flag on the run, and each worker has a row with its heartbeat.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: (
        "ALTER TABLE runs ADD COLUMN worker_id TEXT",
        "ALTER TABLE runs ADD COLUMN stop_requested INTEGER NOT NULL DEFAULT 0",
        """CREATE TABLE IF NOT EXISTS workers (
            id TEXT PRIMARY KEY, slot INTEGER, pid INTEGER NOT NULL, host TEXT NOT NULL,
            started_at REAL NOT NULL, heartbeat_at REAL NOT NULL, backend TEXT, device TEXT,
            run_id INTEGER)""",
        "CREATE INDEX IF NOT EXISTS runs_status ON runs (status, id)",
    ),
    # Version 3: the epochs a run trained, written the moment its training ends (before the test
    # set is scored), so a stopped run reads as stopped at once; NULL while it still trains.
    3: ("ALTER TABLE runs ADD COLUMN trained_epochs REAL",),
}


class StoreError(Exception):
    """The store cannot do what was asked (bad status, newer schema, unreadable file...)."""


class BadRun(StoreError):
    """A stored run whose record cannot be decoded (edited by hand, damaged); the others are fine."""

    def __init__(self, run_id: int, reason: str):
        self.run_id, self.reason = run_id, reason
        super().__init__(f"Run {run_id} cannot be read: {reason}. It is skipped; delete it to clear this.")


class RunList(list):
    """`list_runs()`'s answer: the readable runs, plus `skipped`, a BadRun for each unreadable one."""

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.skipped: list[BadRun] = []


class RunNotFound(StoreError, KeyError):
    """No run has this id (it was never created, or it was deleted)."""

    def __init__(self, run_id: int):
        self.run_id = run_id
        super().__init__(f"No run with id {run_id} in the run store.")

    def __str__(self) -> str:  # KeyError would otherwise show the message in quotes
        return str(self.args[0])


log = logging.getLogger(__name__)


def canonical_json(config: dict[str, Any]) -> str:
    """One spelling per config, whatever the key order, so equal configs get equal keys."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


def config_key(config: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(config).encode("utf-8")).hexdigest()


def _as_dict(config: Any) -> dict[str, Any]:
    """Accept a RunConfig (anything with `to_dict`) as well as a plain dict."""
    return config.to_dict() if hasattr(config, "to_dict") else dict(config)


def _pid_alive(pid: int) -> bool | None:
    """Whether a process with this pid exists on this host; None where we cannot tell safely."""
    if os.name == "nt":  # there os.kill(pid, 0) would terminate the process
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by another user
        return True
    return True


class RunStore:
    """Runs and their metrics in one SQLite file; safe to share across threads and processes."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[tuple[threading.Thread, int, sqlite3.Connection]] = []
        self._host = socket.gethostname()
        try:
            self.path = Path(path) if path is not None else paths.store_path()
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # FUSION_LAB_HOME is a file, or a folder we may not write
            raise StoreError(str(exc) if isinstance(exc, paths.HomeError) else _explain(path, exc)) from exc
        if self.path.is_dir():
            raise StoreError(
                f"The run store {self.path} is a folder, not a file. Move the folder away or use "
                f"another FUSION_LAB_HOME."
            )
        try:
            self._init_schema()
            self.mark_interrupted_orphans()
        except sqlite3.Error as exc:
            self.close()
            raise StoreError(_explain(self.path, exc)) from exc
        except StoreError:
            self.close()
            raise

    # -- connections -------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        """This thread's connection: sqlite3 connections must not be used by two threads at once.

        Streamlit runs every script rerun on a new thread, so connections of threads that have
        ended are closed here rather than piling up.
        """
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():  # a forked child needs its own
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn, self._local.pid = conn, os.getpid()
            with self._lock:
                dead = [c for t, pid, c in self._conns if pid == os.getpid() and not t.is_alive()]
                self._conns = [e for e in self._conns if e[2] not in dead]
                self._conns.append((threading.current_thread(), os.getpid(), conn))
            for c in dead:
                c.close()
        return conn

    def _rows(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:  # a damaged file, a full disk, an I/O error: say so, no traceback
            raise StoreError(_explain(self.path, exc)) from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE takes the lock up front, so it waits but never deadlocks.

        SQLite's own errors (disk full, read-only file, damaged file) become a StoreError that says
        what to do; an IntegrityError is left to the caller, which knows which value was wrong.
        """
        try:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(_explain(self.path, exc)) from exc
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:  # the failed COMMIT may already have ended the transaction
                    pass
            if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.IntegrityError):
                raise StoreError(_explain(self.path, exc)) from exc
            raise

    def close(self) -> None:
        """Close the connections this store opened in this process; later calls open fresh ones."""
        with self._lock:
            conns, self._conns = self._conns, []
            self._local = threading.local()
        for _, pid, conn in conns:
            if pid == os.getpid():  # a forked child must not touch its parent's connections
                conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _init_schema(self) -> None:
        conn = self._conn()
        self._check_version(conn)  # before anything writes to a file we may not understand
        conn.execute("PRAGMA journal_mode = WAL")
        with self._write() as c:  # checked again under the lock: two openers migrate once
            version = self._check_version(c)
            if version < 1:
                for statement in _SCHEMA:
                    c.execute(statement)
            for step in range(max(version, 1) + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[step]:
                    c.execute(statement)
            if version < SCHEMA_VERSION:
                c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _check_version(self, conn: sqlite3.Connection) -> int:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} uses run store schema version {version}, but this Fusion Lab only "
                f"understands up to version {SCHEMA_VERSION}. Update Fusion Lab or use another "
                f"FUSION_LAB_HOME."
            )
        return version

    def _update(self, run_id: int, sql: str, params: tuple = ()) -> None:
        with self._write() as c:
            if c.execute(f"UPDATE runs SET {sql} WHERE id = ?", (*params, run_id)).rowcount == 0:
                raise RunNotFound(run_id)

    # -- runs --------------------------------------------------------------------------------
    def create_run(
        self,
        config: dict[str, Any],
        *,
        name: str | None = None,
        kind: str = "train",
        group_id: str | None = None,
    ) -> int:
        """A new 'queued' run owned by this process; its name defaults to 'Run <id>'."""
        config = _as_dict(config)
        name = clean_name(name) if name is not None else None
        now = time.time()
        with self._write() as c:
            cur = c.execute(
                "INSERT INTO runs (name, kind, group_id, config_json, config_key, status, created_at,"
                " owner_pid, owner_host, heartbeat_at) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
                (name or "", kind, group_id, canonical_json(config), config_key(config), now, os.getpid(),
                 self._host, now),
            )  # fmt: skip
            run_id = int(cur.lastrowid)
            if not name:
                c.execute("UPDATE runs SET name = ? WHERE id = ?", (f"Run {run_id}", run_id))
        return run_id

    def mark_running(self, run_id: int, *, backend: str, device: str) -> None:
        """The run has started here; this process becomes its owner (it may not be the creator)."""
        now = time.time()
        self._update(
            run_id,
            "status = 'running', started_at = ?, heartbeat_at = ?, backend = ?, device = ?,"
            " owner_pid = ?, owner_host = ?",
            (now, now, backend, device, os.getpid(), self._host),
        )

    def heartbeat(self, run_id: int) -> None:
        """Proof of life for runs watched from another host (pids mean nothing there)."""
        self._update(run_id, "heartbeat_at = ?", (time.time(),))

    def finish(
        self,
        run_id: int,
        status: str,
        *,
        results: dict[str, Any] | None = None,
        error: str | None = None,
        timings: dict[str, Any] | None = None,
    ) -> None:
        if status not in FINAL_STATUSES:
            raise StoreError(f"A run can finish as one of {', '.join(FINAL_STATUSES)}. Received: {status!r}")
        now = time.time()
        self._update(
            run_id,
            "status = ?, finished_at = ?, heartbeat_at = ?, results_json = ?, error = ?, timings_json = ?",
            (status, now, now, _dumps(results), error, _dumps(timings)),
        )

    def mark_trained(self, run_id: int, epochs: float) -> None:
        """Training of a running run has ended after `epochs` (a fraction); scoring and saving follow.

        Its status stays 'running' until `finish()`: a page shows "stopped" from here on, and the
        results when they arrive.
        """
        self._update(run_id, "trained_epochs = ?, heartbeat_at = ?", (float(epochs), time.time()))

    def set_model_path(self, run_id: int, path: str | os.PathLike[str]) -> None:
        self._update(run_id, "model_path = ?", (os.fspath(path),))

    def rename(self, run_id: int, name: str) -> None:
        """A new name: control characters become spaces; empty or over MAX_NAME_CHARS is refused."""
        name = clean_name(name)
        if not name:
            raise StoreError("A run name cannot be empty (or only spaces and control characters).")
        self._update(run_id, "name = ?", (name,))

    def delete(self, run_id: int) -> None:
        """Remove the run, its metrics (cascade) and its saved model, so nothing is left behind.

        Only the model inside this home's models folder is removed (see `paths.safe_model_path`):
        a store copied from another home, or edited by hand, cannot make this delete anything else.
        """
        with self._write() as c:
            row = c.execute("SELECT model_path FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(run_id)
            c.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        model = paths.safe_model_path(run_id, row["model_path"] or paths.run_model_path(run_id))
        if model is None:
            return
        if model.is_dir() and not model.is_symlink():  # a SavedModel-style folder
            shutil.rmtree(model, ignore_errors=True)
        else:
            model.unlink(missing_ok=True)

    def get_run(self, run_id: int) -> dict[str, Any] | None:
        """Every column, plus `config`, `results` and `timings` decoded to dicts (None if unset).

        `model_path` is the model file this home may read (see `paths.safe_model_path`), or None.
        None for a run that does not exist, and for one whose record cannot be decoded (logged;
        `list_runs().skipped` reports it): every page already copes with a missing run.
        """
        rows = self._rows("SELECT * FROM runs WHERE id = ?", (run_id,))
        if not rows:
            return None
        try:
            return _decode(rows[0])
        except ValueError as exc:
            log.warning("%s", BadRun(run_id, str(exc)))
            return None

    def list_runs(
        self, *, status: str | None = None, kind: str | None = None, group_id: str | None = None
    ) -> RunList:
        """Runs newest first, optionally filtered; metrics are fetched separately.

        A row that cannot be decoded (bad JSON, a non-number accuracy) is left out and named in
        the result's `skipped`, so one damaged run never hides the others.
        """
        if status is not None and status not in STATUSES:
            raise StoreError(f"status must be one of {', '.join(STATUSES)}. Received: {status!r}")
        filters = {"status": status, "kind": kind, "group_id": group_id}
        where = [(col, val) for col, val in filters.items() if val is not None]
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(f"{c} = ?" for c, _ in where) if where else "")
        rows = self._rows(sql + " ORDER BY id DESC", tuple(v for _, v in where))
        runs = RunList()
        for row in rows:
            try:
                runs.append(_decode(row))
            except ValueError as exc:
                runs.skipped.append(BadRun(row["id"], str(exc)))
        return runs

    def find_done_run(self, config: dict[str, Any]) -> dict[str, Any] | None:
        """The newest finished run of exactly this config, so an experiment never retrains it."""
        rows = self._rows(
            "SELECT * FROM runs WHERE config_key = ? AND status = 'done' ORDER BY id DESC",
            (config_key(_as_dict(config)),),
        )
        for row in rows:  # a damaged row is not a reusable result
            try:
                return _decode(row)
            except ValueError:
                continue
        return None

    def mark_interrupted_orphans(self) -> list[int]:
        """Mark 'interrupted' the queued/running runs whose owner process is gone; return their ids.

        Same host: the owner pid no longer exists. Other host: no heartbeat for ORPHAN_AFTER_S.
        Runs of this very process are never touched. Metrics are kept so the curves stay viewable.
        """
        rows = self._rows(
            "SELECT id, owner_pid, owner_host, COALESCE(heartbeat_at, started_at, created_at) AS beat"
            " FROM runs WHERE status = 'running' OR (status = 'queued' AND owner_pid IS NOT NULL)"
        )  # a queued job without an owner waits for a worker: nobody has died
        now, marked = time.time(), []
        for r in rows:
            pid, host = r["owner_pid"], r["owner_host"]
            if host == self._host and pid == os.getpid():
                continue
            alive = _pid_alive(pid) if host == self._host and pid else None
            if alive is True or (alive is None and now - r["beat"] <= ORPHAN_AFTER_S):
                continue
            error = f"Interrupted: the process that ran it (pid {pid} on {host}) stopped before it finished."
            with self._write() as c:  # the status guard loses gracefully to a concurrent finish()
                cur = c.execute(
                    "UPDATE runs SET status = 'interrupted', finished_at = ?, error = ?"
                    " WHERE id = ? AND status IN ('queued', 'running')",
                    (now, error, r["id"]),
                )
            if cur.rowcount:
                marked.append(r["id"])
        return marked + self.mark_lost_jobs()

    # -- jobs and workers (schema version 2) ---------------------------------------------------
    def create_job(
        self,
        config: dict[str, Any],
        *,
        name: str | None = None,
        kind: str = "train",
        group_id: str | None = None,
    ) -> int:
        """A new 'queued' run with no owner: the first free worker claims it (see `claim_job`)."""
        run_id = self.create_run(config, name=name, kind=kind, group_id=group_id)
        with self._write() as c:
            c.execute("UPDATE runs SET owner_pid = NULL, owner_host = NULL WHERE id = ?", (run_id,))
        return run_id

    def claim_job(self, worker_id: str | None, *, run_id: int | None = None) -> dict[str, Any] | None:
        """Claim the oldest waiting job (or job `run_id`) for this process; None when there is none.

        The claim is one IMMEDIATE transaction, so two workers never claim the same job. The run
        becomes 'running', owned by this process and by `worker_id` (None: a process that is not a
        worker, such as the CLI, whose runs are watched by pid instead of heartbeat).
        """
        only = " AND id = ?" if run_id is not None else ""
        params = (run_id,) if run_id is not None else ()
        query = f"SELECT id FROM runs WHERE status = 'queued' AND owner_pid IS NULL{only} ORDER BY id LIMIT 1"
        if not self._rows(query, params):  # a plain read first: idle workers poll without locking
            return None
        now = time.time()
        with self._write() as c:
            row = c.execute(query, params).fetchone()
            if row is None:
                return None
            c.execute(
                "UPDATE runs SET status = 'running', worker_id = ?, owner_pid = ?, owner_host = ?,"
                " started_at = ?, heartbeat_at = ? WHERE id = ?",
                (worker_id, os.getpid(), self._host, now, now, row["id"]),
            )
            if worker_id is not None:
                c.execute(
                    "UPDATE workers SET run_id = ?, heartbeat_at = ? WHERE id = ?",
                    (row["id"], now, worker_id),
                )
        return self.get_run(row["id"])

    def request_stop(self, run_id: int) -> bool:
        """Stop a job: a queued one ends as 'stopped' at once, a running one gets the stop flag.

        Returns False when the run had already ended. Its worker reads the flag within a fraction
        of a second and stops training after the current batch.
        """
        now = time.time()
        with self._write() as c:
            row = c.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(run_id)
            if row["status"] == "queued":
                c.execute(
                    "UPDATE runs SET status = 'stopped', stop_requested = 1, finished_at = ?,"
                    " heartbeat_at = ?,"
                    " error = 'Stopped before it started.' WHERE id = ?",
                    (now, now, run_id),
                )
            elif row["status"] == "running":
                c.execute("UPDATE runs SET stop_requested = 1 WHERE id = ?", (run_id,))
            else:
                return False
        return True

    def stop_requested(self, run_id: int) -> bool:
        rows = self._rows("SELECT stop_requested FROM runs WHERE id = ?", (run_id,))
        return bool(rows and rows[0]["stop_requested"])

    def interrupt(self, run_id: int, error: str) -> bool:
        """Mark a queued or running run 'interrupted' with a one-line reason; its metrics stay."""
        with self._write() as c:
            cur = c.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = ?, error = ?"
                " WHERE id = ? AND status IN ('queued', 'running')",
                (time.time(), error, run_id),
            )
        return cur.rowcount > 0

    def find_active_run(self, config: dict[str, Any]) -> dict[str, Any] | None:
        """The oldest queued or running run of exactly this config, so it is never submitted twice."""
        rows = self._rows(
            "SELECT * FROM runs WHERE config_key = ? AND status IN ('queued', 'running') ORDER BY id LIMIT 1",
            (config_key(_as_dict(config)),),
        )
        return _decode(rows[0]) if rows else None

    def active_run_ids(self) -> list[int]:
        """Queued and running runs, oldest first."""
        return [
            r["id"]
            for r in self._rows("SELECT id FROM runs WHERE status IN ('queued', 'running') ORDER BY id")
        ]

    def queue_position(self, run_id: int) -> int | None:
        """1 for the next job a worker will claim; None when the run is not waiting for a worker."""
        rows = self._rows(
            "SELECT COUNT(*) AS n, SUM(id = ?) AS mine FROM runs"
            " WHERE status = 'queued' AND owner_pid IS NULL AND id <= ?",
            (run_id, run_id),
        )
        return int(rows[0]["n"]) if rows and rows[0]["mine"] else None

    def last_metric(self, run_id: int) -> dict[str, Any] | None:
        """The run's newest metric row (a poller's cheap view of its progress)."""
        rows = self._rows(
            f"SELECT seq, {', '.join(METRIC_FIELDS)} FROM metrics WHERE run_id = ? ORDER BY seq DESC LIMIT 1",
            (run_id,),
        )
        return dict(rows[0]) if rows else None

    def register_worker(self, worker_id: str, *, slot: int | None = None) -> None:
        """A worker's row: who it is (pid, host), its heartbeat, later its backend and device."""
        now = time.time()
        with self._write() as c:
            c.execute(
                "INSERT OR REPLACE INTO workers (id, slot, pid, host, started_at, heartbeat_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (worker_id, slot, os.getpid(), self._host, now, now),
            )

    def set_worker_device(self, worker_id: str, *, backend: str, device: str) -> None:
        with self._write() as c:
            c.execute("UPDATE workers SET backend = ?, device = ? WHERE id = ?", (backend, device, worker_id))

    def worker_heartbeat(self, worker_id: str, run_id: int | None = None) -> None:
        """Proof of life for the worker and for the run it is training."""
        now = time.time()
        with self._write() as c:
            c.execute(
                "UPDATE workers SET heartbeat_at = ?, run_id = ? WHERE id = ?", (now, run_id, worker_id)
            )
            if run_id is not None:
                c.execute(
                    "UPDATE runs SET heartbeat_at = ? WHERE id = ? AND status = 'running'", (now, run_id)
                )

    def unregister_worker(self, worker_id: str) -> None:
        with self._write() as c:
            c.execute("DELETE FROM workers WHERE id = ?", (worker_id,))

    def list_workers(self) -> list[dict[str, Any]]:
        """Workers with a fresh heartbeat, oldest first."""
        rows = self._rows(
            "SELECT * FROM workers WHERE heartbeat_at >= ? ORDER BY started_at",
            (time.time() - WORKER_TIMEOUT_S,),
        )
        return [dict(r) for r in rows]

    def mark_lost_jobs(self) -> list[int]:
        """Mark 'interrupted' the running jobs whose worker is gone; return their ids.

        A worker is gone when its heartbeat is older than WORKER_TIMEOUT_S, when its pid no longer
        exists on this host, or when its row was removed. The rows of gone workers are removed too.
        Metrics are kept so the curves stay viewable.
        """
        now = time.time()
        workers = self._rows("SELECT id, pid, host, heartbeat_at FROM workers")
        gone = {
            w["id"]
            for w in workers
            if now - w["heartbeat_at"] > WORKER_TIMEOUT_S
            or (w["host"] == self._host and _pid_alive(w["pid"]) is False)
        }
        known = {w["id"]: w for w in workers}
        marked = []
        for r in self._rows(
            "SELECT id, worker_id FROM runs WHERE status = 'running' AND worker_id IS NOT NULL"
        ):
            worker = known.get(r["worker_id"])
            if worker is not None and r["worker_id"] not in gone:
                continue
            where = f"pid {worker['pid']} on {worker['host']}" if worker is not None else r["worker_id"]
            error = f"Interrupted: the worker that trained it ({where}) stopped before it finished."
            if self.interrupt(r["id"], error):
                marked.append(r["id"])
        if gone:
            with self._write() as c:
                c.executemany("DELETE FROM workers WHERE id = ? AND heartbeat_at = ?",
                              [(w, known[w]["heartbeat_at"]) for w in gone])  # fmt: skip
        return marked

    # -- metrics -----------------------------------------------------------------------------
    def append_metrics(self, run_id: int, events: list[dict[str, Any]]) -> None:
        """Add events in one transaction; seq continues per run so pollers can ask for 'after N'."""
        with self._write() as c:
            if c.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                raise RunNotFound(run_id)
            last = c.execute("SELECT COALESCE(MAX(seq), -1) FROM metrics WHERE run_id = ?", (run_id,))
            start = last.fetchone()[0] + 1
            try:
                rows = [(run_id, start + i, *_metric_values(ev)) for i, ev in enumerate(events)]
                c.executemany(f"INSERT INTO metrics VALUES (?, ?{', ?' * len(METRIC_FIELDS)})", rows)
            except (sqlite3.IntegrityError, TypeError, ValueError) as exc:
                raise StoreError(
                    f"Bad metric event for run {run_id}: split must be one of {', '.join(SPLITS)}, "
                    f"split, series and step are required and the rest numbers or None ({exc})."
                ) from exc
            c.execute("UPDATE runs SET heartbeat_at = ? WHERE id = ?", (time.time(), run_id))

    def metrics(self, run_id: int, *, after_seq: int = -1) -> list[dict[str, Any]]:
        """The run's events with seq > after_seq, in order (a UI polls with its last seen seq)."""
        rows = self._rows(
            f"SELECT seq, {', '.join(METRIC_FIELDS)} FROM metrics WHERE run_id = ? AND seq > ? ORDER BY seq",
            (run_id, after_seq),
        )
        if not rows and not self._rows("SELECT 1 FROM runs WHERE id = ?", (run_id,)):
            raise RunNotFound(run_id)
        return [dict(r) for r in rows]

    def export_metrics_csv(self, run_id: int) -> str:
        """The run's metrics as CSV text with a header row, for download."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=("seq", *METRIC_FIELDS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.metrics(run_id))
        return out.getvalue()


def _dumps(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


def _metric_values(event: dict[str, Any]) -> tuple:
    return tuple(None if event.get(f) is None else kind(event[f]) for f, kind in METRIC_TYPES.items())


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    """A row as a dict; ValueError names the column when a stored value is not what we write."""
    run = dict(row)
    for key in ("config", "results", "timings"):
        raw = run.get(f"{key}_json")
        try:
            value = json.loads(raw) if raw else None
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{key}_json is not valid JSON ({exc})") from None
        if value is not None and not isinstance(value, dict):
            raise ValueError(f"{key}_json holds a {type(value).__name__}, not an object")
        run[key] = value
    if run["config"] is None:
        raise ValueError("config_json is empty")
    for field, value in _accuracies(run["results"] or {}):
        if value is not None and not _is_number(value):
            raise ValueError(f"results_json has a non-number {field}: {value!r}")
    if not isinstance(run.get("name"), str):
        raise ValueError(f"name is not text: {run.get('name')!r}")
    try:
        run["model_path"] = _safe_str(paths.safe_model_path(run["id"], run.get("model_path")))
    except OSError:  # the home itself is unusable: no model can be read from it
        run["model_path"] = None
    return run


def _accuracies(results: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """The accuracies pages and the CLI format as numbers."""
    yield "fused_accuracy", results.get("fused_accuracy")
    series = results.get("series")
    if series is not None and not isinstance(series, dict):
        yield "series", series
        return
    for name, values in (series or {}).items():
        if not isinstance(values, dict):
            yield f"series.{name}", values
            continue
        yield f"series.{name}.test_accuracy", values.get("test_accuracy")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _safe_str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def clean_name(name: str) -> str:
    """A run name as it is stored: control and text-direction characters become spaces, ends trimmed.

    Names are shown in tables, terminals and messages; a newline, an escape sequence or a
    right-to-left override could fake rows or hide text there. Raises StoreError over
    MAX_NAME_CHARS characters.
    """
    if not isinstance(name, str):
        raise StoreError(f"A run name must be text. Received: name={name!r}")
    cleaned = "".join(" " if _is_control(ch) else ch for ch in name).strip()
    if len(cleaned) > MAX_NAME_CHARS:
        raise StoreError(
            f"A run name can have at most {MAX_NAME_CHARS} characters. Received: a name of "
            f"{len(cleaned):,} characters ({cleaned[:20]!r}...)."
        )
    return cleaned


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")


def printable_name(name: str) -> str:
    """A stored name safe to print on a terminal: control characters shown as escapes (\\n, \\x1b)."""
    return "".join(ch.encode("unicode_escape").decode("ascii") if _is_control(ch) else ch for ch in name)


def _explain(path: Any, exc: BaseException) -> str:
    """What went wrong with the store file, and what to do, in one line (never a traceback)."""
    text = str(exc).lower()
    where = f"The run store {path}"
    if "not a database" in text or "malformed" in text:
        what = "is damaged or is not a readable Fusion Lab run store"
        todo = "Move the file away (a new store is created in its place) or use another FUSION_LAB_HOME."
    elif "readonly" in text or "read-only" in text or isinstance(exc, PermissionError):
        what = "cannot be written (the file or its folder is read-only)"
        todo = "Make both writable or use another FUSION_LAB_HOME."
    elif "full" in text or getattr(exc, "errno", None) == errno.ENOSPC:
        what = "cannot be used: the disk is full"
        todo = "Free some space or use another FUSION_LAB_HOME on another disk."
    elif "unable to open" in text:
        what = "cannot be opened (no permission, or its folder is missing)"
        todo = "Check the folder's permissions or use another FUSION_LAB_HOME."
    elif "locked" in text or "busy" in text:
        what = "is locked by another program for too long"
        todo = "Try again in a moment, or stop the program that holds it."
    else:
        what = "cannot be read or written"
        todo = "Check the disk and the file, or use another FUSION_LAB_HOME."
    return f"{where} {what}: {exc}. {todo}"
