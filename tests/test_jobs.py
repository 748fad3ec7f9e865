"""Background jobs: a real SQLite store, real Keras training on synthetic data."""

from __future__ import annotations

import errno
import threading
import time
from pathlib import Path

import pytest

from fusion_core import paths
from fusion_core.config import make_config
from fusion_core.jobs import JobRunner, friendly_error, run_job
from fusion_core.store import RunStore


def tiny(**kw):
    kw.setdefault("epochs", 1)
    return make_config("parallel", num_members=2, hidden_units=16, batch_size=20, train_size=100, **kw)


@pytest.fixture
def store(fusion_home):
    return RunStore()


def test_run_job_stores_curves_results_timings_and_a_loadable_model(store, synthetic):
    config = tiny()
    run_id = store.create_run(config.to_dict())
    assert run_job(config, store, run_id, data_loader=lambda: synthetic) == "done"
    run = store.get_run(run_id)
    assert run["status"] == "done" and run["backend"] and run["device"]
    results = run["results"]
    assert set(results["series"]) == {"member_0", "member_1", "fused"}
    assert results["n_train"] == 100
    assert 0.0 <= results["fused_accuracy"] <= 1.0
    assert run["timings"]["seconds_per_epoch"] > 0
    splits = {row["split"] for row in store.metrics(run_id)}
    assert splits == {"train", "val"}
    from fusion_core.models import load_model

    assert Path(run["model_path"]).exists()
    assert "fused" in load_model(run["model_path"]).output_names or load_model(run["model_path"]).outputs


def test_a_failing_job_is_marked_failed_with_one_line_and_keeps_earlier_rows(store):
    def broken_loader():
        raise RuntimeError("disk on fire\nsecond line")

    config = tiny()
    run_id = store.create_run(config.to_dict())
    assert run_job(config, store, run_id, data_loader=broken_loader) == "failed"
    run = store.get_run(run_id)
    assert run["status"] == "failed"
    assert run["error"] == "disk on fire (RuntimeError)"


def test_friendly_error_for_memory():
    assert "memory" in friendly_error(MemoryError())


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_while_saving_fails_the_run_and_leaves_no_partial_file(store, synthetic, monkeypatch):
    import keras

    def save_half(model, filepath, *args, **kwargs):
        Path(filepath).write_bytes(b"half a model")  # what a full disk leaves behind
        no_space()

    monkeypatch.setattr(keras.Model, "save", save_half)
    config = tiny()
    run_id = store.create_run(config.to_dict())
    assert run_job(config, store, run_id, data_loader=lambda: synthetic) == "failed"
    run = store.get_run(run_id)
    assert run["status"] == "failed" and "disk is full" in run["error"]
    assert list(paths.models_dir().iterdir()) == []
    assert store.metrics(run_id)  # the curves measured before the failure are kept


def test_a_failing_finish_is_retried_and_never_kills_the_caller(store, synthetic, monkeypatch):
    calls = []
    real_finish = store.finish

    def finish_on_a_full_disk(run_id, status, **kwargs):
        calls.append(status)
        if len(calls) <= 2:  # the 'done' record and the first failure record hit the full disk
            no_space()
        real_finish(run_id, status, **kwargs)

    monkeypatch.setattr(store, "finish", finish_on_a_full_disk)
    config = tiny()
    run_id = store.create_run(config.to_dict())
    assert run_job(config, store, run_id, data_loader=lambda: synthetic) == "failed"
    assert calls == ["done", "failed", "failed"]
    run = store.get_run(run_id)
    assert run["status"] == "failed" and "disk is full" in run["error"]
    assert not paths.run_model_path(run_id).exists()  # no model for a run that is not 'done'


def test_a_store_that_never_accepts_the_failure_still_returns(store, monkeypatch, caplog):
    monkeypatch.setattr(store, "finish", no_space)
    config = tiny()
    run_id = store.create_run(config.to_dict())
    assert run_job(config, store, run_id, data_loader=no_space) == "failed"
    assert "could not record its failure" in caplog.text


def test_runner_queues_beyond_its_limit_and_reports_the_position(store, synthetic):
    gate = threading.Event()

    def slow_loader():
        gate.wait(30)
        return synthetic

    runner = JobRunner(store, max_concurrent=1, data_loader=slow_loader)
    first = runner.submit(tiny())
    second = runner.submit(tiny(seed=1))
    assert runner.state(first)["status"] == "running"
    assert runner.state(second) == {"status": "queued", "queue_position": 1, "progress": None}
    assert runner.active() == [first, second]
    gate.set()
    assert runner.wait(first, 120) == "done"
    assert runner.wait(second, 120) == "done"
    assert runner.active() == []


def test_stopping_a_queued_job_drops_it(store, synthetic):
    gate = threading.Event()
    runner = JobRunner(store, max_concurrent=1, data_loader=lambda: gate.wait(30) and synthetic)
    first = runner.submit(tiny())
    second = runner.submit(tiny(seed=1))
    assert runner.stop(second)
    assert store.get_run(second)["status"] == "stopped"
    gate.set()
    assert runner.wait(first, 120) == "done"
    assert not runner.stop(first)  # already finished


def test_stopping_a_running_job_keeps_its_curves_and_model(store, synthetic):
    runner = JobRunner(store, data_loader=lambda: synthetic)
    run_id = runner.submit(tiny(epochs=50))
    deadline = time.time() + 60
    while not store.metrics(run_id) and time.time() < deadline:
        time.sleep(0.05)
    assert store.metrics(run_id), "no metrics arrived"
    asked = time.time()
    runner.stop(run_id)
    assert runner.wait(run_id, 60) == "stopped"
    run = store.get_run(run_id)
    assert run["results"]["epochs_completed"] < 50
    assert Path(run["model_path"]).exists()
    assert store.metrics(run_id)
    assert runner.state(run_id)["status"] == "stopped"
    assert time.time() - asked < 30  # generous: stop + test evaluation + save on a busy machine


def test_progress_reports_step_and_time_left(store, synthetic):
    runner = JobRunner(store, data_loader=lambda: synthetic)
    run_id = runner.submit(tiny(epochs=2))
    runner.wait(run_id, 120)
    progress = runner.state(run_id)["progress"]
    assert progress["step"] == progress["total_steps"] == 10
    assert progress["fraction"] == 1.0 and progress["seconds_left"] == 0
