"""Workers against a real SQLite store: claims, stop flags, heartbeats, failures, killed processes.

In-process workers (a thread of this process) train on synthetic digits; the worker processes
(`python -m fusion_core worker`) find the real MNIST as the app's workers do, with tiny configs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fusion_core import jobs
from fusion_core.config import make_config
from fusion_core.executors import ExecutorError, executor_from_env, run_locally
from fusion_core.store import WORKER_TIMEOUT_S, RunStore
from fusion_core.worker import EXIT_SLOT_TAKEN, Worker, take_slot
from fusion_core.worker_pool import parse_max_jobs

ROOT = Path(__file__).resolve().parents[1]


def tiny(**kw):
    kw.setdefault("epochs", 1)
    kw.setdefault("train_size", 100)
    return make_config("parallel", num_members=2, hidden_units=16, batch_size=20, **kw)


@pytest.fixture
def store(fusion_home):
    s = RunStore()
    yield s
    s.close()


def wait_until(check, seconds: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def start(worker: Worker) -> threading.Thread:
    thread = threading.Thread(target=worker.serve, daemon=True)
    thread.start()
    return thread


def spawn_worker(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "fusion_core", "worker", *args], cwd=ROOT, env=env)


# -- claims ------------------------------------------------------------------------------------------


def test_two_workers_never_claim_the_same_job(store):
    ids = [jobs.submit(store, tiny(seed=i)) for i in range(24)]
    claimed: list[list[int]] = [[], [], [], []]

    def claim_all(mine: list[int]) -> None:
        own = RunStore(store.path)  # a connection of its own, as another process would have
        own.register_worker(f"w{id(mine)}")
        while (run := own.claim_job(f"w{id(mine)}")) is not None:
            mine.append(run["id"])
        own.close()

    threads = [threading.Thread(target=claim_all, args=(c,)) for c in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    everything = [rid for c in claimed for rid in c]
    assert sorted(everything) == ids  # each job exactly once
    assert all(run["status"] == "running" for run in store.list_runs())


def test_claims_go_oldest_first_and_skip_runs_that_are_not_jobs(store):
    cli_run = store.create_run(tiny().to_dict())  # the CLI's own run: never handed to a worker
    store.register_worker("w")
    first, second = jobs.submit(store, tiny()), jobs.submit(store, tiny(seed=1))
    assert jobs.job_state(store, second)["queue_position"] == 2
    assert store.claim_job("w")["id"] == first
    assert jobs.job_state(store, second)["queue_position"] == 1
    assert store.claim_job("w")["id"] == second
    assert store.claim_job("w") is None
    assert store.get_run(cli_run)["status"] == "queued"


# -- stop flags --------------------------------------------------------------------------------------


def test_stopping_a_queued_job_ends_it_at_once_and_no_worker_takes_it(store):
    run_id = jobs.submit(store, tiny())
    assert jobs.request_stop(store, run_id)
    run = store.get_run(run_id)
    assert run["status"] == "stopped" and run["error"] == "Stopped before it started."
    assert store.claim_job("w") is None
    assert not jobs.request_stop(store, run_id)  # already ended
    assert not jobs.request_stop(store, 999)  # no such run


def test_stopping_a_running_job_stops_training_and_keeps_curves_and_model(store, synthetic):
    worker = Worker(store, data_loader=lambda: synthetic, poll_seconds=0.1)
    thread = start(worker)
    run_id = jobs.submit(store, tiny(epochs=50))
    wait_until(lambda: store.metrics(run_id), what="the first metric rows")
    assert jobs.job_state(store, run_id)["status"] == "running"
    assert jobs.request_stop(store, run_id)
    wait_until(lambda: store.get_run(run_id)["status"] not in jobs.ACTIVE, 60, "the stop")
    run = store.get_run(run_id)
    assert run["status"] == "stopped"
    assert run["results"]["epochs_completed"] < 50
    assert Path(run["model_path"]).exists() and store.metrics(run_id)
    worker.close()
    thread.join(30)
    assert not thread.is_alive()
    assert store.list_workers() == []  # its row leaves with it


def slow_scoring(monkeypatch) -> tuple[threading.Event, threading.Event]:
    """Make scoring on the test set wait: (scoring started, release it)."""
    from fusion_core import evaluate as evaluate_module

    scoring, release = threading.Event(), threading.Event()
    real = evaluate_module.evaluate

    def held(*args, **kwargs):
        scoring.set()
        release.wait(120)
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluate_module, "evaluate", held)
    return scoring, release


def test_a_stopped_run_reads_as_stopped_before_its_test_score_exists(store, synthetic, monkeypatch):
    scoring, release = slow_scoring(monkeypatch)
    worker = Worker(store, data_loader=lambda: synthetic, poll_seconds=0.1)
    thread = start(worker)
    run_id = jobs.submit(store, tiny(epochs=50))
    wait_until(lambda: store.metrics(run_id), what="the first metric rows")
    assert jobs.job_state(store, run_id)["trained_epochs"] is None  # still training
    assert jobs.request_stop(store, run_id)
    wait_until(scoring.is_set, 60, "scoring to begin")
    state = jobs.job_state(store, run_id)
    try:
        assert state["status"] == "running" and state["stop_requested"]
        assert state["trained_epochs"] is not None and 0 < state["trained_epochs"] < 50
        assert store.get_run(run_id)["results"] is None  # the test score does not exist yet
    finally:
        release.set()
    wait_until(lambda: store.get_run(run_id)["status"] not in jobs.ACTIVE, 60, "the final status")
    run = store.get_run(run_id)
    assert run["status"] == "stopped" and run["results"]["epochs_completed"] == state["trained_epochs"]
    assert Path(run["model_path"]).exists() and store.metrics(run_id)
    worker.close()
    thread.join(30)


# -- heartbeat, progress, failures -------------------------------------------------------------------


def test_the_heartbeat_comes_from_its_own_thread_while_a_job_blocks(store):
    release = threading.Event()

    def blocking(job):  # a job that holds its thread far longer than a heartbeat, like a long trace
        release.wait(30)
        job.store.finish(job.run_id, "done")
        return "done"

    worker = Worker(store, execute=blocking, poll_seconds=0.05, heartbeat_seconds=0.2)
    thread = start(worker)
    run_id = jobs.submit(store, tiny())
    wait_until(lambda: worker.current_run == run_id, what="the claim")
    first = store.list_workers()[0]["heartbeat_at"]
    run_beat = store.get_run(run_id)["heartbeat_at"]
    time.sleep(1.0)
    (row,) = store.list_workers()
    assert row["heartbeat_at"] > first and row["run_id"] == run_id and row["pid"] == os.getpid()
    assert store.get_run(run_id)["heartbeat_at"] > run_beat
    assert store.mark_lost_jobs() == []  # alive, so never taken for dead
    release.set()
    wait_until(lambda: store.get_run(run_id)["status"] == "done", what="the job's end")
    worker.close()
    thread.join(10)


def test_progress_reports_step_total_and_time_left(store, synthetic):
    worker = Worker(store, data_loader=lambda: synthetic, once=True)
    run_id = jobs.submit(store, tiny(epochs=2))
    assert jobs.job_state(store, run_id) == {"status": "queued", "queue_position": 1, "progress": None,
                                             "stop_requested": False, "trained_epochs": None}  # fmt: skip
    worker.serve()
    state = jobs.job_state(store, run_id)
    progress = state["progress"]
    assert state["status"] == "done" and state["queue_position"] is None
    assert state["trained_epochs"] == 2.0 and not state["stop_requested"]  # recorded when fit() returned
    assert progress["step"] == progress["total_steps"] == 10
    assert progress["epoch"] == 2.0
    assert progress["fraction"] == 1.0 and progress["seconds_left"] == 0


def test_a_failing_job_is_failed_with_one_line_and_the_worker_keeps_going(store, synthetic):
    def broken_loader():
        raise RuntimeError("disk on fire\nsecond line")

    worker = Worker(store, data_loader=broken_loader, idle_exit=0.5)
    broken = jobs.submit(store, tiny())
    assert worker.serve() == 1
    assert store.get_run(broken)["status"] == "failed"
    assert store.get_run(broken)["error"] == "disk on fire (RuntimeError)"

    calls = []

    def exploding(job):  # the executor itself raises: the worker records it and goes on
        calls.append(job.run_id)
        if len(calls) == 1:
            raise ValueError("executor broke")
        return run_locally(job)

    worker = Worker(store, execute=exploding, data_loader=lambda: synthetic, idle_exit=0.5)
    first, second = jobs.submit(store, tiny(seed=1)), jobs.submit(store, tiny(seed=2))
    assert worker.serve() == 2
    assert store.get_run(first)["status"] == "failed"
    assert store.get_run(first)["error"] == "executor broke (ValueError)"
    assert store.get_run(second)["status"] == "done"


def test_an_executor_that_records_nothing_never_leaves_the_run_running(store):
    worker = Worker(store, execute=lambda job: "done", idle_exit=0.2)
    run_id = jobs.submit(store, tiny())
    worker.serve()
    run = store.get_run(run_id)
    assert run["status"] == "interrupted" and "without recording a result" in run["error"]


def test_a_worker_whose_heartbeat_stopped_loses_its_job(store):
    store.register_worker("gone", slot=None)
    run_id = jobs.submit(store, tiny())
    store.claim_job("gone")
    store.append_metrics(run_id, [{"split": "train", "series": "fused", "step": 1, "epoch": 0.1}])
    assert store.mark_lost_jobs() == []
    with store._write() as c:  # noqa: SLF001 - age the heartbeat as a hung or remote worker's would
        c.execute("UPDATE workers SET heartbeat_at = ?", (time.time() - WORKER_TIMEOUT_S - 1,))
    assert jobs.job_state(store, run_id)["status"] == "interrupted"  # a poll notices it
    assert "stopped before it finished" in store.get_run(run_id)["error"]
    assert len(store.metrics(run_id)) == 1  # the curves stay
    assert store.list_workers() == []


# -- reuse or submit ---------------------------------------------------------------------------------


def test_reuse_or_submit_never_trains_a_config_twice(store, synthetic):
    config = tiny()
    run_id, reused = jobs.reuse_or_submit(store, config, name="a", kind="sweep", group_id="g1")
    assert not reused and store.get_run(run_id)["group_id"] == "g1"
    assert jobs.reuse_or_submit(store, config) == (run_id, True)  # still queued: the same job
    Worker(store, data_loader=lambda: synthetic, once=True).serve()
    assert jobs.reuse_or_submit(store, config) == (run_id, True)  # done: reused
    ids = jobs.submit_group(store, [(config, "x"), (tiny(seed=5), "y")], kind="sweep", group_id="g2")
    assert ids[0] == (run_id, True) and not ids[1][1]
    assert store.get_run(ids[1][0])["group_id"] == "g2"


def test_run_here_trains_a_job_no_worker_has_and_waits_for_one_a_worker_has(store, synthetic):
    mine = jobs.submit(store, tiny())
    assert jobs.run_here(store, mine, data_loader=lambda: synthetic) == "done"
    assert store.get_run(mine)["worker_id"] is None
    theirs = jobs.submit(store, tiny(seed=1))
    worker = Worker(store, data_loader=lambda: synthetic, once=True)
    thread = start(worker)
    wait_until(lambda: store.get_run(theirs)["status"] == "running", what="the worker's claim")
    assert jobs.run_here(store, theirs, poll_seconds=0.1) == "done"
    thread.join(30)
    assert store.get_run(theirs)["worker_id"] == worker.id


# -- the executor switch, the job limit, slots -------------------------------------------------------


def test_executor_is_chosen_by_environment():
    assert executor_from_env({}) is run_locally
    assert executor_from_env({"FUSION_LAB_EXECUTOR": "local"}) is run_locally
    with pytest.raises(ExecutorError, match="Received: FUSION_LAB_EXECUTOR='spark'"):
        executor_from_env({"FUSION_LAB_EXECUTOR": "spark"})


@pytest.mark.parametrize(
    ("raw", "expected", "message"),
    [(None, 1, False), ("", 1, False), ("3", 3, False), (" 2 ", 2, False),
     ("abc", 1, True), ("0", 1, True), ("-3", 1, True), ("99999", 1, True), ("1.5", 1, True)],
)  # fmt: skip
def test_max_jobs_parsing_falls_back_to_one_with_a_clear_message(raw, expected, message):
    count, text = parse_max_jobs(raw)
    assert count == expected
    assert (text is not None) == message
    if message:
        assert f"Received: FUSION_LAB_MAX_JOBS={raw!r}" in text and "Using 1" in text


def test_a_slot_is_held_by_one_process_at_a_time(fusion_home):
    held = take_slot(0)
    assert held is not None
    proc = spawn_worker("--slot", "0", "--idle-exit", "0.1")
    assert proc.wait(120) == EXIT_SLOT_TAKEN
    held.close()
    assert take_slot(0) is not None


# -- real worker processes ---------------------------------------------------------------------------


@pytest.mark.mnist
def test_a_killed_worker_process_loses_its_run_and_the_next_job_goes_to_another(store, synthetic):
    long_run = jobs.submit(store, tiny(epochs=200, train_size=1000))
    victim = spawn_worker("--idle-exit", "120")
    try:
        wait_until(lambda: len(store.metrics(long_run)) >= 2, 180, "the worker process's first points")
        next_job = jobs.submit(store, tiny(seed=7))
        rows_before = len(store.metrics(long_run))
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(30)
        killed_at = time.monotonic()
        survivor = Worker(RunStore(store.path), data_loader=lambda: synthetic, poll_seconds=0.1, once=True)
        thread = start(survivor)
        wait_until(lambda: store.get_run(long_run)["status"] == "interrupted", 30, "the interrupted mark")
        assert time.monotonic() - killed_at < 5
        run = store.get_run(long_run)
        assert f"pid {victim.pid}" in run["error"]
        assert len(store.metrics(long_run)) >= rows_before  # its curves are kept
        thread.join(120)
        assert store.get_run(next_job)["status"] == "done"
        assert store.get_run(next_job)["worker_id"] == survivor.id
    finally:
        if victim.poll() is None:
            victim.kill()


@pytest.mark.mnist
def test_two_worker_processes_and_a_cli_trainer_share_one_store(store, fusion_home):
    submitted = [jobs.submit(store, tiny(seed=i)) for i in range(4)]
    workers = [spawn_worker("--idle-exit", "3") for _ in range(2)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = subprocess.run(
        [sys.executable, "-m", "fusion_core", "train", "--units", "16", "--layers", "1", "--epochs", "1",
         "--train-size", "100", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    for proc in workers:
        assert proc.wait(300) == 0
    runs = {run["id"]: run for run in store.list_runs()}
    assert all(runs[rid]["status"] == "done" for rid in submitted)
    used = {runs[rid]["worker_id"] for rid in submitted}
    assert len(used) == 2 and None not in used  # both workers trained some of the jobs
    (cli_run,) = [run for run in runs.values() if run["kind"] == "cli"]
    assert cli_run["status"] == "done" and cli_run["worker_id"] is None
    assert store.list_workers() == []  # both left with --idle-exit and removed their rows


@pytest.mark.mnist
def test_a_worker_exits_with_its_parent_and_marks_its_run_interrupted(store, fusion_home):
    long_run = jobs.submit(store, tiny(epochs=200, train_size=1000))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # A parent shell that starts the worker in the background, prints its pid, then is killed.
    script = f"{sys.executable} -m fusion_core worker --parent-pid $$ & echo $!; wait"
    parent = subprocess.Popen(["bash", "-c", script], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    worker_pid = int(parent.stdout.readline())
    try:
        wait_until(lambda: store.metrics(long_run), 180, "the worker's first points")
        parent.kill()
        parent.wait(10)
        run = wait_until(
            lambda: (r := store.get_run(long_run))["status"] == "interrupted" and r, 15, "the worker's exit"
        )
        assert "app that started its worker stopped" in run["error"]
        wait_until(lambda: not _alive(worker_pid), 15, "the worker process to end")
    finally:
        if _alive(worker_pid):
            os.kill(worker_pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


POOL_SCRIPT = """
import sys, time
sys.path.insert(0, {root!r})
from fusion_core.worker_pool import start_pool
pool = start_pool(2)
while True:
    print(" ".join(map(str, pool.pids())), flush=True)
    time.sleep(0.5)
"""


def test_two_apps_on_one_home_run_two_workers_not_four_and_none_outlive_them(store):
    """Two supervisors (a restart that overlaps the old server) share the slots; killing both with
    SIGKILL leaves no worker behind."""
    script = POOL_SCRIPT.format(root=str(ROOT))
    apps = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    try:
        workers = wait_until(
            lambda: len(store.list_workers()) >= 2 and store.list_workers(), 180, "two workers"
        )
        time.sleep(2 * 2.0 + 1)  # two more rounds of the losing supervisor's retries
        workers = store.list_workers()
        assert sorted(w["slot"] for w in workers) == [0, 1]
        pids = [w["pid"] for w in workers]
        assert all(_alive(pid) for pid in pids)
    finally:
        for app in apps:
            app.kill()
            app.wait(10)
    wait_until(lambda: not any(_alive(pid) for pid in pids), 15, "the workers to leave with their apps")


def test_a_worker_with_an_unusable_store_logs_one_line_and_serves_nothing(tmp_path, caplog):
    store = RunStore(tmp_path / "runs.sqlite")
    store.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{store.path}{suffix}").unlink(missing_ok=True)
    store.path.write_bytes(b"not a database" * 100)  # replaced under the store
    worker = Worker(store, poll_seconds=0.05, idle_exit=0.2)
    assert worker.serve() == 0  # returns instead of raising
    assert "cannot use the run store" in caplog.text
