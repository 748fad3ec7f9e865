"""run_job: a real SQLite store, real Keras training on synthetic data (workers: test_worker.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

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
