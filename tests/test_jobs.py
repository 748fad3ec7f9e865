"""run_job: a real SQLite store, real Keras training on synthetic data (workers: test_worker.py)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from fusion_core import paths
from fusion_core.config import make_config
from fusion_core.jobs import friendly_error, run_job
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
