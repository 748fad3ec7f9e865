"""The run store against real SQLite files: round trips, polling, reuse lookups, concurrency, crashes."""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # so `fusion_core` imports without installing the package
    sys.path.insert(0, str(ROOT))

from fusion_core.store import (  # noqa: E402 -- after the sys.path guard above
    SCHEMA_VERSION,
    RunNotFound,
    RunStore,
    StoreError,
    config_key,
)

CONFIG = {"fusion": {"type": "parallel", "num_members": 3, "rule": "soft"}, "training": {"epochs": 2}}


@pytest.fixture(autouse=True)
def lab_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("FUSION_LAB_HOME", str(home))
    return home


@pytest.fixture
def store(lab_home):
    s = RunStore()
    yield s
    s.close()


def event(step: int, split: str = "train", series: str = "fused", loss: float | None = 0.5) -> dict:
    return {
        "split": split,
        "series": series,
        "step": step,
        "epoch": step / 10,
        "seen": step * 128,
        "elapsed": step * 0.01,
        "loss": loss,
        "accuracy": None if loss is None else 0.9,
    }


def assert_contiguous(store: RunStore, run_id: int, expected_rows: int) -> list[dict]:
    rows = store.metrics(run_id)
    assert [r["seq"] for r in rows] == list(range(expected_rows))
    return rows


# -- round trips -------------------------------------------------------------------------------
def test_default_path_is_inside_fusion_lab_home(store, lab_home):
    assert store.path == lab_home / "runs.sqlite"
    assert store.path.exists()


def test_create_list_get_round_trip(store, lab_home):
    first = store.create_run(CONFIG)
    second = store.create_run(CONFIG, name="Sweep point", kind="sweep", group_id="exp-1")
    run = store.get_run(first)
    assert run["name"] == f"Run {first}"
    assert run["status"] == "queued" and run["kind"] == "train" and run["group_id"] is None
    assert run["config"] == CONFIG and run["results"] is None and run["timings"] is None
    assert run["owner_pid"] == os.getpid() and run["created_at"] <= time.time()
    assert run["config_key"] == config_key(CONFIG)

    store.mark_running(second, backend="jax", device="cpu")
    store.heartbeat(second)
    store.set_model_path(second, "/tmp/model.keras")
    store.finish(second, "done", results={"test_accuracy": 0.97}, timings={"train_s": 1.5})
    run = store.get_run(second)
    assert run["status"] == "done" and run["backend"] == "jax" and run["device"] == "cpu"
    assert run["results"] == {"test_accuracy": 0.97} and run["timings"] == {"train_s": 1.5}
    # A path outside the home is never handed out: the run's own file in this home is.
    assert run["model_path"] == str((lab_home / "models" / f"run_{second}.keras").resolve())
    assert run["started_at"] <= run["finished_at"]

    assert [r["id"] for r in store.list_runs()] == [second, first]
    assert [r["id"] for r in store.list_runs(status="queued")] == [first]
    assert [r["id"] for r in store.list_runs(kind="sweep", group_id="exp-1")] == [second]
    assert store.list_runs(group_id="nope") == []
    assert store.get_run(9999) is None


def test_metrics_append_and_poll_after_seq(store):
    run_id = store.create_run(CONFIG)
    assert store.metrics(run_id) == []
    store.append_metrics(run_id, [event(1), event(1, "val", "member_0", loss=None)])
    rows = store.metrics(run_id)
    assert [r["seq"] for r in rows] == [0, 1]
    assert rows[1] == {"seq": 1, **event(1, "val", "member_0", loss=None)}
    store.append_metrics(run_id, [event(2), event(3)])
    new = store.metrics(run_id, after_seq=rows[-1]["seq"])
    assert [(r["seq"], r["step"]) for r in new] == [(2, 2), (3, 3)]
    assert store.metrics(run_id, after_seq=3) == []

    text = store.export_metrics_csv(run_id)
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == "seq,split,series,step,epoch,seen,elapsed,loss,accuracy"
    assert len(parsed) == 4 and parsed[1]["series"] == "member_0" and parsed[1]["loss"] == ""


def test_numpy_scalars_are_stored_as_plain_numbers(store):
    np = pytest.importorskip("numpy")
    run_id = store.create_run(CONFIG)
    store.append_metrics(run_id, [{**event(1), "step": np.int64(7), "loss": np.float32(0.25)}])
    row = store.metrics(run_id)[0]
    assert row["step"] == 7 and row["loss"] == 0.25
    assert type(row["step"]) is int and type(row["loss"]) is float
    with pytest.raises(StoreError, match="numbers or None"):
        store.append_metrics(run_id, [{**event(2), "loss": "low"}])


def test_connections_of_finished_threads_are_closed(store):
    """Streamlit runs each rerun on a fresh thread; their connections must not pile up."""
    run_id = store.create_run(CONFIG)
    for _ in range(20):
        t = threading.Thread(target=store.get_run, args=(run_id,))
        t.start()
        t.join()
    assert len(store._conns) <= 2  # this thread's and at most the last finished one


def test_append_metrics_refreshes_heartbeat(store):
    run_id = store.create_run(CONFIG)
    before = store.get_run(run_id)["heartbeat_at"]
    time.sleep(0.01)
    store.append_metrics(run_id, [event(1)])
    assert store.get_run(run_id)["heartbeat_at"] > before


def test_find_done_run_ignores_key_order_and_unfinished_runs(store):
    reordered = {"training": {"epochs": 2}, "fusion": {"rule": "soft", "num_members": 3, "type": "parallel"}}
    assert store.find_done_run(reordered) is None
    old = store.create_run(CONFIG)
    store.finish(old, "done", results={"acc": 0.9})
    newer = store.create_run(CONFIG)
    store.finish(newer, "done", results={"acc": 0.91})
    store.create_run(CONFIG)  # queued: not reusable
    failed = store.create_run(CONFIG)
    store.finish(failed, "failed", error="boom")
    found = store.find_done_run(reordered)
    assert found["id"] == newer and found["results"] == {"acc": 0.91}
    assert store.find_done_run({**CONFIG, "training": {"epochs": 3}}) is None


def test_rename_and_delete_remove_model_and_metrics(store, lab_home):
    run_id = store.create_run(CONFIG)
    keep = store.create_run(CONFIG)
    store.rename(run_id, "Best so far")
    assert store.get_run(run_id)["name"] == "Best so far"
    model = lab_home / "models" / f"run_{run_id}.keras"
    model.parent.mkdir(parents=True, exist_ok=True)
    model.write_bytes(b"weights")
    store.set_model_path(run_id, model)
    store.append_metrics(run_id, [event(1), event(2)])
    store.append_metrics(keep, [event(1)])

    store.delete(run_id)
    assert store.get_run(run_id) is None
    assert not model.exists()
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM metrics WHERE run_id = ?", (run_id,)).fetchone()[0] == 0
    assert len(store.metrics(keep)) == 1
    with pytest.raises(RunNotFound):
        store.delete(run_id)


# -- model files stay inside the home ------------------------------------------------------------
def test_deleting_a_run_never_deletes_a_model_outside_the_home(store, lab_home, tmp_path):
    """A copied home's store points at the original home's file; a tampered one at any file."""
    original = tmp_path / "original_home" / "models" / "run_1.keras"
    original.parent.mkdir(parents=True)
    original.write_bytes(b"the original home's model")
    precious = tmp_path / "precious.txt"
    precious.write_text("not a model")
    copied, tampered = store.create_run(CONFIG), store.create_run(CONFIG)
    store.set_model_path(copied, original)
    store.set_model_path(tampered, precious)
    own = lab_home / "models" / f"run_{copied}.keras"
    own.parent.mkdir(parents=True, exist_ok=True)
    own.write_bytes(b"this home's model of the copied run")

    store.delete(copied)
    store.delete(tampered)
    assert original.read_bytes() == b"the original home's model"
    assert precious.read_text() == "not a model"
    assert not own.exists()  # the run's own file in this home is removed


def test_a_tampered_model_path_is_never_handed_out(store, lab_home, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("server secret")
    outside, other, symlinked, old = (store.create_run(CONFIG) for _ in range(4))
    store.set_model_path(outside, secret)
    store.set_model_path(other, lab_home / "models" / f"run_{outside}.keras")  # another run's file
    link = lab_home / "models" / "upload_link.keras"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(secret)
    store.set_model_path(symlinked, link)
    legacy = lab_home / "models" / "upload_0123456789abcdef.keras"  # an older store's upload name
    legacy.write_bytes(b"model")
    store.set_model_path(old, legacy)

    for run_id in (outside, other, symlinked):
        path = Path(store.get_run(run_id)["model_path"])
        assert path == (lab_home / "models" / f"run_{run_id}.keras").resolve()
        assert not path.exists()  # so no page offers a download or a prediction
    assert store.get_run(old)["model_path"] == str(legacy.resolve())
    store.delete(symlinked)
    assert secret.read_text() == "server secret" and link.exists()
    store.delete(old)
    assert not legacy.exists()


def test_validation_errors(store):
    run_id = store.create_run(CONFIG)
    with pytest.raises(KeyError, match="12345"):  # RunNotFound is a KeyError
        store.rename(12345, "x")
    for call in (
        lambda: store.mark_running(12345, backend="jax", device="cpu"),
        lambda: store.heartbeat(12345),
        lambda: store.finish(12345, "done"),
        lambda: store.append_metrics(12345, [event(1)]),
        lambda: store.metrics(12345),
        lambda: store.set_model_path(12345, "m.keras"),
    ):
        with pytest.raises(RunNotFound, match="No run with id 12345"):
            call()
    with pytest.raises(StoreError, match="'running'"):
        store.finish(run_id, "running")
    with pytest.raises(StoreError, match="status must be one of"):
        store.list_runs(status="exploded")
    with pytest.raises(StoreError, match="split"):
        store.append_metrics(run_id, [event(1), event(2, split="holdout")])
    assert store.metrics(run_id) == []  # the failed batch left nothing behind


# -- schema ------------------------------------------------------------------------------------
def test_schema_version_recorded_and_creation_idempotent(store):
    store.create_run(CONFIG)
    RunStore(store.path).close()
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert len(store.list_runs()) == 1


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "future.sqlite"
    RunStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}"):
        RunStore(path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a readable"):
        RunStore(path)


# -- concurrency -------------------------------------------------------------------------------
def test_two_threads_appending_lose_nothing(store):
    runs = [store.create_run(CONFIG), store.create_run(CONFIG)]
    batches, per_batch = 200, 3
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(tag: int) -> None:
        try:
            barrier.wait()
            for b in range(batches):
                for run_id in runs:
                    store.append_metrics(
                        run_id, [event(b * per_batch + i, series=f"member_{tag}") for i in range(per_batch)]
                    )
        except Exception as exc:  # surfaced below; a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for run_id in runs:
        rows = assert_contiguous(store, run_id, 2 * batches * per_batch)
        for tag in range(2):  # each writer's events all arrived, in its own order
            steps = [r["step"] for r in rows if r["series"] == f"member_{tag}"]
            assert steps == list(range(batches * per_batch))


def _process_writer(path: str, shared_run: int, tag: int, barrier, batches: int) -> None:
    """Runs in a spawned process: its own RunStore on the same file, writing while the other does."""
    store = RunStore(path)
    own = [store.create_run(CONFIG, name=f"proc {tag} run {i}") for i in range(2)]
    barrier.wait()
    for b in range(batches):
        for run_id in (shared_run, *own):
            store.append_metrics(run_id, [event(b * 2 + i, series=f"member_{tag}") for i in range(2)])
    for run_id in own:
        store.finish(run_id, "done")
    store.close()


def test_two_processes_appending_lose_nothing(store):
    shared = store.create_run(CONFIG, name="shared")
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    batches = 60
    procs = [
        ctx.Process(target=_process_writer, args=(str(store.path), shared, tag, barrier, batches))
        for tag in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]

    own = [r for r in store.list_runs() if r["id"] != shared]
    assert len(own) == 4 and all(r["status"] == "done" for r in own)
    for run in own:
        assert_contiguous(store, run["id"], batches * 2)
    rows = assert_contiguous(store, shared, 2 * batches * 2)
    for tag in range(2):
        assert [r["step"] for r in rows if r["series"] == f"member_{tag}"] == list(range(batches * 2))
    assert store.get_run(shared)["status"] == "queued"  # owned by this live process


# -- crashes -----------------------------------------------------------------------------------
CRASHING_CHILD = textwrap.dedent(
    """
    import os, sys
    from fusion_core.store import RunStore
    store = RunStore()
    run_id = store.create_run({"crash": True})
    store.mark_running(run_id, backend="jax", device="cpu")
    store.append_metrics(run_id, [
        {"split": "train", "series": "fused", "step": s, "epoch": 0.0, "seen": s, "elapsed": 0.1,
         "loss": 1.0, "accuracy": 0.5} for s in range(5)
    ])
    print(run_id, flush=True)
    os._exit(1)
    """
)


def test_crashed_process_run_becomes_interrupted_and_keeps_metrics(store, lab_home):
    mine = store.create_run(CONFIG)
    mine_running = store.create_run(CONFIG)
    store.mark_running(mine_running, backend="jax", device="cpu")
    env = {**os.environ, "FUSION_LAB_HOME": str(lab_home), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_CHILD],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    crashed = int(proc.stdout.strip())
    assert store.get_run(crashed)["status"] == "running"  # nobody has looked yet

    reopened = RunStore()
    run = reopened.get_run(crashed)
    assert run["status"] == "interrupted"
    assert "stopped" in run["error"] and run["finished_at"] is not None
    assert [r["step"] for r in reopened.metrics(crashed)] == list(range(5))
    assert reopened.get_run(mine)["status"] == "queued"
    assert reopened.get_run(mine_running)["status"] == "running"
    assert reopened.mark_interrupted_orphans() == []
    reopened.close()


def test_other_host_runs_are_orphaned_only_after_a_stale_heartbeat(store):
    stale, fresh = store.create_run(CONFIG), store.create_run(CONFIG)
    with sqlite3.connect(store.path) as conn:
        conn.execute(
            "UPDATE runs SET owner_host = 'elsewhere', owner_pid = 1, heartbeat_at = ? WHERE id = ?",
            (time.time() - 3600, stale),
        )
        conn.execute("UPDATE runs SET owner_host = 'elsewhere', owner_pid = 1 WHERE id = ?", (fresh,))
    assert store.mark_interrupted_orphans() == [stale]
    assert store.get_run(stale)["status"] == "interrupted"
    assert store.get_run(fresh)["status"] == "queued"


# -- a store that cannot be used says why, never a traceback ---------------------------------------
def run_store_or_list(path: Path | None = None) -> None:
    with RunStore(path) as s:
        s.list_runs()


def test_a_truncated_store_is_a_clear_error(store, lab_home):
    for _ in range(200):
        store.create_run(CONFIG, name="x" * 90)
    store.close()
    data = store.path.read_bytes()
    for suffix in ("-wal", "-shm"):
        Path(f"{store.path}{suffix}").unlink(missing_ok=True)
    store.path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreError, match="damaged or is not a readable Fusion Lab run store"):
        run_store_or_list()


def test_random_bytes_are_a_clear_error(lab_home):
    lab_home.mkdir(parents=True)
    (lab_home / "runs.sqlite").write_bytes(os.urandom(8192))
    with pytest.raises(StoreError, match="FUSION_LAB_HOME"):
        run_store_or_list()


def test_a_folder_at_the_store_path_is_a_clear_error(lab_home):
    (lab_home / "runs.sqlite").mkdir(parents=True)
    with pytest.raises(StoreError, match="is a folder, not a file"):
        RunStore()


def test_fusion_lab_home_pointing_at_a_file_is_a_clear_error(lab_home):
    lab_home.parent.mkdir(parents=True, exist_ok=True)
    lab_home.write_text("not a folder")
    with pytest.raises(StoreError, match="it is a file, not a folder.*FUSION_LAB_HOME"):
        RunStore()


def test_a_read_only_store_is_a_clear_error(store, monkeypatch):
    """Real read-only SQLite connections (file permissions do not bind root, who runs CI here)."""
    store.create_run(CONFIG)
    store.close()
    real_connect = sqlite3.connect
    monkeypatch.setattr(
        sqlite3, "connect", lambda path, **kw: real_connect(f"file:{path}?mode=ro", uri=True, **kw)
    )
    with pytest.raises(StoreError, match="read-only.*writable or use another FUSION_LAB_HOME"):
        s = RunStore(store.path)
        s.create_run(CONFIG)


def test_a_store_in_a_read_only_folder_is_a_clear_error(lab_home, monkeypatch):
    def cannot_open(*args, **kwargs):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(sqlite3, "connect", cannot_open)
    with pytest.raises(StoreError, match="cannot be opened"):
        RunStore()


class _FullDiskConnection:
    """A real connection whose reads fail as SQLite does when the disk is full."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def execute(self, sql: str, params: tuple = ()):
        if sql.lstrip().upper().startswith("SELECT"):
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.execute(sql, params)

    def __getattr__(self, name):
        return getattr(self.conn, name)


def test_a_full_disk_while_reading_is_a_clear_error(store, monkeypatch):
    store.create_run(CONFIG)
    real = store._conn
    monkeypatch.setattr(store, "_conn", lambda: _FullDiskConnection(real()))
    for call in (store.list_runs, lambda: store.get_run(1), lambda: store.metrics(1)):
        with pytest.raises(StoreError, match="the disk is full.*Free some space"):
            call()


# -- one damaged row never hides the others ------------------------------------------------------
@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("config_json", "{not json", "config_json is not valid JSON"),
        ("config_json", "[1, 2]", "config_json holds a list"),
        ("results_json", '{"fused_accuracy": "very high"}', "non-number fused_accuracy"),
        ("results_json", '{"series": {"fused": {"test_accuracy": [1]}}}', "series.fused.test_accuracy"),
        ("timings_json", "\x00\x01", "timings_json is not valid JSON"),
    ],
)
def test_a_bad_row_is_skipped_and_reported(store, column, value, reason):
    good, bad, also_good = (store.create_run(CONFIG) for _ in range(3))
    with sqlite3.connect(store.path) as conn:
        conn.execute(f"UPDATE runs SET {column} = ? WHERE id = ?", (value, bad))
    runs = store.list_runs()
    assert [r["id"] for r in runs] == [also_good, good]
    [skipped] = runs.skipped
    assert skipped.run_id == bad and reason in str(skipped)
    assert store.get_run(bad) is None  # as if missing: every page copes with that
    store.delete(bad)  # the way out: a damaged run can still be deleted
    assert store.list_runs().skipped == []


# -- run names ---------------------------------------------------------------------------------
def test_names_have_a_length_limit_and_no_control_characters(store):
    run_id = store.create_run(CONFIG, name="line one\nline two\x1b[31m\u202e")
    assert store.get_run(run_id)["name"] == "line one line two [31m"
    with pytest.raises(StoreError, match="at most 100 characters. Received: a name of 200,000"):
        store.rename(run_id, "x" * 200_000)
    with pytest.raises(StoreError, match="at most 100"):
        store.create_run(CONFIG, name="y" * 101)
    with pytest.raises(StoreError, match="cannot be empty"):
        store.rename(run_id, "\n\t ")
    store.rename(run_id, "z" * 100)
    assert store.get_run(run_id)["name"] == "z" * 100


V1_SCHEMA = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, kind TEXT NOT NULL DEFAULT 'train',
    group_id TEXT, config_json TEXT NOT NULL, config_key TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued','running','done','stopped','failed','interrupted')),
    created_at REAL NOT NULL, started_at REAL, finished_at REAL, backend TEXT, device TEXT,
    owner_pid INTEGER, owner_host TEXT, heartbeat_at REAL, error TEXT, results_json TEXT,
    model_path TEXT, timings_json TEXT);
CREATE TABLE metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, seq INTEGER NOT NULL,
    split TEXT NOT NULL CHECK (split IN ('train','val','test')), series TEXT NOT NULL,
    step INTEGER NOT NULL, epoch REAL, seen INTEGER, elapsed REAL, loss REAL, accuracy REAL);
CREATE UNIQUE INDEX metrics_run_seq ON metrics (run_id, seq);
CREATE INDEX runs_config_key ON runs (config_key, status);
CREATE INDEX runs_group ON runs (group_id);
PRAGMA user_version = 1;
"""


def test_a_version_1_store_is_migrated_keeping_every_run(tmp_path):
    path = tmp_path / "v1.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(V1_SCHEMA)
    for i, status in enumerate(("done", "failed", "stopped")):
        conn.execute(
            "INSERT INTO runs (name, config_json, config_key, status, created_at, results_json)"
            " VALUES (?, '{}', ?, ?, ?, ?)",
            (f"old {i}", f"k{i}", status, 1000.0 + i, '{"fused_accuracy": 0.9}'),
        )
    conn.execute(
        "INSERT INTO metrics (run_id, seq, split, series, step, loss) VALUES (1, 0, 'train', 'fused', 5, 0.3)"
    )
    conn.commit()
    conn.close()

    store = RunStore(path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    runs = store.list_runs()
    assert [(r["name"], r["status"]) for r in reversed(runs)] == [("old 0", "done"), ("old 1", "failed"),
                                                                 ("old 2", "stopped")]  # fmt: skip
    assert runs[-1]["results"] == {"fused_accuracy": 0.9} and runs[-1]["stop_requested"] == 0
    assert runs[-1]["worker_id"] is None
    assert store.metrics(1)[0]["loss"] == 0.3
    assert store.list_workers() == []
    store.close()
    again = RunStore(path)  # opening a migrated store changes nothing
    assert len(again.list_runs()) == 3
    again.close()
