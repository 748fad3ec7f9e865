"""The Ray executor on a real local Ray (2 CPUs, no dashboard): real Keras training on small data."""

from __future__ import annotations

import functools
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fusion_core import ray_executor
from fusion_core.cli import main
from fusion_core.config import make_config
from fusion_core.data import synthetic_digits
from fusion_core.store import RunStore

ROOT = Path(__file__).resolve().parents[1]
# A module-level function and its arguments: pickled by reference, so it travels to the Ray worker.
TINY_DATA = functools.partial(synthetic_digits, 300, seed=3)


def tiny(**kw):
    kw.setdefault("epochs", 1)
    kw.setdefault("train_size", 200)
    return make_config("parallel", num_members=2, hidden_units=16, batch_size=20, **kw)


@pytest.fixture(scope="module", autouse=True)
def local_ray(tmp_path_factory):
    """One local Ray for the module; its workers keep their files in a folder of their own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("RAY_ADDRESS", raising=False)
        mp.setenv("FUSION_LAB_HOME", str(tmp_path_factory.mktemp("ray_workers_home")))
        ray_executor.ensure_ray(num_cpus=2)
    yield
    ray_executor.shutdown()


@pytest.fixture
def store(fusion_home):
    return RunStore()


def test_a_tiny_job_stores_device_curves_results_and_a_loadable_model(store):
    from fusion_core.jobs import model_path_for
    from fusion_core.models import load_model

    config = tiny()
    run_id = store.create_run(config.to_dict())
    seen = []
    status = ray_executor.run_on_ray(config, store, run_id, data_loader=TINY_DATA, on_event=seen.append)
    assert status == "done"
    run = store.get_run(run_id)
    assert run["status"] == "done" and run["error"] is None
    assert run["backend"] and run["device"]
    assert {row["split"] for row in store.metrics(run_id)} == {"train", "val"}
    assert len(seen) == len({(r["split"], r["step"]) for r in store.metrics(run_id)})
    results = run["results"]
    assert results["n_train"] == 200
    assert 0.0 <= results["series"]["fused"]["test_accuracy"] <= 1.0
    assert run["model_path"] == str(model_path_for(run_id))
    assert results["model_bytes"] == Path(run["model_path"]).stat().st_size
    assert "fused" in load_model(run["model_path"]).output_names
    assert run["timings"]["seconds_per_epoch"] > 0


def test_should_stop_stops_the_task_within_a_few_batches(store):
    config = tiny(epochs=50, train_size=300)  # 14 batches an epoch: long enough to be stopped
    run_id = store.create_run(config.to_dict())
    status = ray_executor.run_on_ray(
        config, store, run_id, data_loader=TINY_DATA, should_stop=lambda: bool(store.metrics(run_id))
    )
    assert status == "stopped"
    run = store.get_run(run_id)
    assert run["status"] == "stopped"
    assert 0 < run["results"]["epochs_completed"] < 50
    assert Path(run["model_path"]).exists()


def test_a_job_stopped_while_it_waits_for_room_never_starts(store, monkeypatch):
    monkeypatch.setenv(ray_executor.CPUS_ENV, "3")  # more than the local Ray has: it waits for good
    config = tiny()
    run_id = store.create_run(config.to_dict())
    assert ray_executor.run_on_ray(config, store, run_id, should_stop=lambda: True) == "stopped"
    run = store.get_run(run_id)
    assert (run["status"], run["error"], run["started_at"]) == ("stopped", "Stopped before it started.", None)
    assert store.metrics(run_id) == []


def test_a_failure_inside_the_task_fails_the_run_with_one_line(store):
    config = tiny()
    run_id = store.create_run(config.to_dict())
    broken = functools.partial(synthetic_digits, 0)  # raises ValueError on the Ray worker
    assert ray_executor.run_on_ray(config, store, run_id, data_loader=broken) == "failed"
    run = store.get_run(run_id)
    assert run["status"] == "failed"
    assert run["error"] == "n must be at least 1, got 0 (ValueError)"
    assert run["model_path"] is None


@pytest.mark.mnist
def test_cli_sweep_submits_its_points_together_and_reuses_them_next_time(store, monkeypatch, capsys):
    monkeypatch.setenv("FUSION_LAB_EXECUTOR", "ray")
    argv = ["sweep", "--sizes", "100,200", "--configs", "single", "--epochs", "1", "--json"]
    assert main(argv) == 0
    points = json.loads(capsys.readouterr().out)["points"]
    assert [(p["train_size"], p["status"], p["reused"]) for p in points] == [
        (100, "done", False),
        (200, "done", False),
    ]
    assert all(p["test_accuracy"] > 0.3 and p["train_accuracy"] is not None for p in points)
    runs = [store.get_run(p["run_id"]) for p in points]
    # Both points were on the cluster before either finished: they ran side by side, not in turn.
    assert max(r["created_at"] for r in runs) < min(r["finished_at"] for r in runs)
    assert {r["kind"] for r in runs} == {"sweep"} and len({r["group_id"] for r in runs}) == 1

    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)["points"]
    assert [(p["run_id"], p["reused"]) for p in again] == [(p["run_id"], True) for p in points]


def test_a_bad_executor_exits_2_with_one_line_naming_the_choices(monkeypatch, capsys):
    monkeypatch.setenv("FUSION_LAB_EXECUTOR", "cluster")
    assert main(["train", "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "'local', 'ray'" in err and "'cluster'" in err


def test_the_engine_imports_without_ray():
    code = (
        "import sys, fusion_core.cli, fusion_core.jobs, fusion_core.experiments, fusion_core.ray_executor;"
        "assert 'ray' not in sys.modules, 'ray was imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_an_unreachable_cluster_fails_the_run_at_once_with_one_line(tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "FUSION_LAB_EXECUTOR": "ray", "RAY_ADDRESS": f"127.0.0.1:{port}"}
    env["FUSION_LAB_HOME"] = str(tmp_path)
    argv = [sys.executable, "-m", "fusion_core", "train", "--epochs", "1", "--train-size", "100"]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: run 1 failed: Nothing answers at RAY_ADDRESS=127.0.0.1:{port} (Connection refused);"
        " start the head there with `ray start --head --port=6379`,"
        " or unset RAY_ADDRESS to train on a local Ray"
    ]
    with RunStore(tmp_path / "runs.sqlite") as store:
        assert store.get_run(1)["status"] == "failed"
