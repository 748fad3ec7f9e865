"""Experiment labs on synthetic digits: sweeps reuse stored runs, robustness, cost, overfitting, CLI."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from fusion_core import cli, experiments, jobs
from fusion_core.config import make_config
from fusion_core.data import DataError, prepare_data, stratified_indices, synthetic_digits
from fusion_core.experiments import (
    COST_PRESET,
    SweepPoint,
    cost_rows,
    mark_pareto,
    overfit_config,
    perturbed_examples,
    plan_size_sweep,
    robustness_curve,
    run_cost_preset,
    run_size_sweep,
    summarise_sweep,
    sweep_config,
    training_accuracy,
)
from fusion_core.store import RunStore

TINY = {"hidden_layers": 1, "hidden_units": 16}  # members small enough to train in a blink


@pytest.fixture(scope="module")
def synthetic():
    return synthetic_digits(600, seed=0)  # 600 training images (540 after validation), 120 test


@pytest.fixture
def store():
    with RunStore() as s:
        yield s


# -- configurations and plans -------------------------------------------------------------------


def test_sweep_configs_are_the_named_fusions():
    shapes = {
        name: (c.fusion.type, c.fusion.num_members, c.fusion.rule)
        for name in experiments.SWEEP_CONFIGS
        for c in [sweep_config(name, 500, 2, 3)]
    }
    assert shapes == {
        "single": ("single", 1, "none"),
        "parallel": ("parallel", 5, "soft"),
        "serial": ("serial", 3, "cascade"),
        "hybrid": ("hybrid", 3, "meta"),
    }
    c = sweep_config("parallel", 500, 2, 3, hidden_units=16)
    assert (c.training.train_size, c.training.seed, c.training.epochs) == (500, 2, 3)
    assert c.member.hidden_units == 16


def test_unknown_sweep_config_names_the_allowed_ones():
    with pytest.raises(ValueError, match="'single', 'parallel', 'serial', 'hybrid'.*'stacked'"):
        sweep_config("stacked", 500, 0, 1)


def test_plan_is_sorted_by_size_and_deduplicated():
    points = plan_size_sweep(["parallel", "single", "parallel"], [2000, 500, 2000], 2)
    assert [(p.train_size, p.config_name, p.seed) for p in points] == [
        (500, "parallel", 0), (500, "parallel", 1), (500, "single", 0), (500, "single", 1),
        (2000, "parallel", 0), (2000, "parallel", 1), (2000, "single", 0), (2000, "single", 1),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "names, sizes, seeds, shown",
    [
        (["single"], [500, 99], 1, "size=99"),
        (["single"], [60_001], 1, "size=60001"),
        (["single"], ["500"], 1, "size='500'"),
        (["single"], [], 1, "at least one training-set size"),
        (["single"], [500], 0, "seeds=0"),
        (["single"], [500], 6, "seeds=6"),
        (["single", "bagged"], [500], 1, "'bagged'"),
        ([], [500], 1, "at least one configuration"),
    ],
)
def test_plan_refuses_bad_values_and_shows_them(names, sizes, seeds, shown):
    with pytest.raises(ValueError) as info:
        plan_size_sweep(names, sizes, seeds)
    assert shown in str(info.value)


# -- the sweep ----------------------------------------------------------------------------------


def test_second_sweep_trains_nothing_and_reuses_every_point(store, synthetic):
    points = plan_size_sweep(["single", "parallel"], [100, 150], 1)
    first = run_size_sweep(points, store, epochs=1, data_loader=lambda: synthetic, overrides=TINY)
    assert [r["status"] for r in first] == ["done"] * 4
    assert not any(r["reused"] for r in first)
    assert [r["n_train"] for r in first] == [100, 100, 150, 150]  # stratified sizes are exact
    runs = store.list_runs()
    assert len(runs) == 4 and {r["kind"] for r in runs} == {"sweep"}
    assert len({r["group_id"] for r in runs}) == 1

    seen = []
    second = run_size_sweep(
        points, store, epochs=1, data_loader=lambda: synthetic, overrides=TINY,
        on_point=lambda i, total, row: seen.append((i, total, row["run_id"])),
    )  # fmt: skip
    assert len(store.list_runs()) == 4
    assert all(r["reused"] for r in second)
    assert [r["run_id"] for r in second] == [r["run_id"] for r in first]
    assert [(r["test_accuracy"], r["train_accuracy"]) for r in second] == [
        (r["test_accuracy"], r["train_accuracy"]) for r in first
    ]
    assert seen == [(i + 1, 4, r["run_id"]) for i, r in enumerate(first)]


def test_train_accuracy_scores_the_runs_own_training_images(store, synthetic):
    from fusion_core.models import load_model
    from fusion_core.train import probabilities

    [row] = run_size_sweep([SweepPoint("single", 120, 3)], store, epochs=1, data_loader=lambda: synthetic,
                           overrides=TINY)  # fmt: skip
    run = store.get_run(row["run_id"])
    data = prepare_data(synthetic, 120, 0.1, 3)
    model = load_model(run["model_path"])
    expected = np.mean(np.argmax(probabilities(model, data.x_train)["fused"], axis=1) == data.y_train)
    assert row["train_accuracy"] == pytest.approx(expected)
    assert row["test_accuracy"] == run["results"]["fused_accuracy"]
    keep = stratified_indices(data.y_train, 50, 3)
    x, y = data.x_train[keep], data.y_train[keep]
    capped = np.mean(np.argmax(probabilities(model, x)["fused"], axis=1) == y)
    assert training_accuracy(run, synthetic, cap=50) == pytest.approx(capped)


def test_stop_event_skips_the_remaining_points(store, synthetic):
    stop = threading.Event()
    points = plan_size_sweep(["single"], [100, 150, 200], 1)
    rows = run_size_sweep(points, store, epochs=1, data_loader=lambda: synthetic, overrides=TINY,
                          stop_event=stop, on_point=lambda i, total, row: stop.set())  # fmt: skip
    assert len(rows) == 1 and len(store.list_runs()) == 1


def test_summarise_sweep_matches_numpy():
    test = {("single", 100): [0.5, 0.6, 0.8], ("single", 200): [0.7], ("parallel", 100): [0.55, 0.65]}
    rows = [
        {"config_name": n, "train_size": s, "seed": k, "status": "done", "test_accuracy": a,
         "train_accuracy": 1.0 - a / 10}
        for (n, s), accs in test.items()
        for k, a in enumerate(accs)
    ]  # fmt: skip
    rows.append({"config_name": "single", "train_size": 100, "seed": 9, "status": "failed",
                 "test_accuracy": None, "train_accuracy": None})  # fmt: skip
    summary = {(s["config_name"], s["train_size"]): s for s in summarise_sweep(rows)}
    assert list(summary) == [("single", 100), ("single", 200), ("parallel", 100)]
    for key, accs in test.items():
        s = summary[key]
        assert s["seeds"] == len(accs)
        assert s["test_accuracy_mean"] == pytest.approx(np.mean(accs))
        assert s["test_accuracy_std"] == pytest.approx(np.std(accs, ddof=1) if len(accs) > 1 else 0.0)
        train = [1.0 - a / 10 for a in accs]
        assert s["train_accuracy_mean"] == pytest.approx(np.mean(train))
        assert s["train_accuracy_std"] == pytest.approx(np.std(train, ddof=1) if len(accs) > 1 else 0.0)


# -- robustness ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fused_model(synthetic):
    from fusion_core.train import train

    config = make_config("parallel", num_members=3, rule="soft", epochs=2, train_size=300, **TINY)
    return train(config, prepare_data(synthetic, 300, 0.1, 0)).model


def test_robustness_at_strength_zero_is_the_clean_accuracy_for_every_output(synthetic, fused_model):
    from fusion_core.train import probabilities, score

    data = prepare_data(synthetic, 300, 0.1, 0)
    rows = robustness_curve(fused_model, data.x_test, data.y_test, "gaussian_noise", [0.0, 0.6], sample=50)
    outputs = ["member_0", "member_1", "member_2", "fused"]
    assert [(r["strength"], r["output"]) for r in rows] == [(s, o) for s in (0.0, 0.6) for o in outputs]
    assert {r["n"] for r in rows} == {50}
    keep = np.sort(stratified_indices(data.y_test, 50, 0))
    clean = score(probabilities(fused_model, data.x_test[keep]), data.y_test[keep])
    assert {r["output"]: r["accuracy"] for r in rows[:4]} == {o: clean[o]["accuracy"] for o in outputs}
    # uint8 (n, 28, 28) images, as load_mnist gives them, are scored the same way
    assert robustness_curve(fused_model, synthetic.x_test, synthetic.y_test, "gaussian_noise", [0.0, 0.6],
                            sample=50) == rows  # fmt: skip


def test_robustness_refuses_an_unknown_perturbation(synthetic, fused_model):
    with pytest.raises(ValueError, match="'blur'"):
        robustness_curve(fused_model, synthetic.x_test, synthetic.y_test, "blur", [0.0])


def test_perturbed_examples_are_the_first_images_damaged():
    x = synthetic_digits(20, seed=1).x_test
    clean = perturbed_examples(x, "rotate", 0.0, n=5)
    assert clean.shape == (5, 28, 28) and clean.dtype == np.float32
    np.testing.assert_array_equal(clean, x[:5] / np.float32(255.0))
    assert not np.array_equal(perturbed_examples(x, "rotate", 45.0, n=5), clean)


# -- cost ---------------------------------------------------------------------------------------


def _fake_done_run(store, config, params, seconds, accuracy):
    run_id = store.create_run(config.to_dict(), kind="cost")
    store.finish(
        run_id,
        "done",
        results={"params_total": params, "latency_ms": 0.5, "model_bytes": 4096, "fused_accuracy": accuracy},
        timings={"seconds_per_epoch": seconds},
    )
    return run_id


def test_cost_rows_reads_results_and_timings_of_finished_runs(store):
    config = make_config("parallel", num_members=3, rule="soft", **TINY)
    run_id = _fake_done_run(store, config, 12_345, 1.5, 0.9)
    store.create_run(config.to_dict())  # queued: no costs yet, skipped
    rows = cost_rows(store.list_runs())
    assert rows == [{
        "run_id": run_id, "name": f"Run {run_id}", "description": config.describe(),
        "config": config.to_dict(),
        "fusion_type": "parallel", "num_members": 3, "params_total": 12_345, "seconds_per_epoch": 1.5,
        "latency_ms": 0.5, "model_bytes": 4096, "test_accuracy": 0.9,
    }]  # fmt: skip


def test_pareto_marks_the_runs_nothing_beats(store):
    config = make_config("single", **TINY)
    # name: (parameters, seconds per epoch, accuracy)
    values = {"cheap": (50, 4.0, 0.80), "mid": (100, 1.0, 0.90), "best": (200, 2.0, 0.95),
              "worse": (300, 3.0, 0.93)}  # fmt: skip
    ids = {name: _fake_done_run(store, config, *v) for name, v in values.items()}
    rows = cost_rows(store.list_runs())
    by_params = {r["run_id"] for r in mark_pareto(rows, "params_total") if r["pareto"]}
    assert by_params == {ids["cheap"], ids["mid"], ids["best"]}
    by_seconds = {r["run_id"] for r in mark_pareto(rows, "seconds_per_epoch") if r["pareto"]}
    assert by_seconds == {ids["mid"], ids["best"]}
    with pytest.raises(ValueError, match="'accuracy'"):
        mark_pareto(rows, "accuracy")


def test_cost_preset_is_single_plus_each_fusion_with_2_3_5_members():
    shapes = [(c.fusion.type, c.fusion.num_members, c.fusion.rule) for c in COST_PRESET]
    fusions = (("parallel", "soft"), ("serial", "cascade"), ("hybrid", "meta"))
    assert shapes == [("single", 1, "none")] + [(t, k, r) for t, r in fusions for k in (2, 3, 5)]
    budgets = {(c.member.hidden_layers, c.member.hidden_units, c.training.epochs, c.training.train_size)
               for c in COST_PRESET}  # fmt: skip
    assert budgets == {(2, 128, 2, 10_000)}


def test_run_cost_preset_trains_once_then_reuses(store, synthetic):
    configs = [make_config("single", train_size=100, epochs=1, **TINY),
               make_config("serial", num_members=2, train_size=100, epochs=1, **TINY)]  # fmt: skip
    first = run_cost_preset(store, configs=configs, data_loader=lambda: synthetic)
    assert [(r["status"], r["reused"]) for r in first] == [("done", False)] * 2
    assert first[1]["params_total"] > first[0]["params_total"] > 0
    second = run_cost_preset(store, configs=configs, data_loader=lambda: synthetic)
    assert [(r["run_id"], r["reused"]) for r in second] == [(r["run_id"], True) for r in first]
    assert len(store.list_runs(kind="cost")) == 2


# -- overfitting --------------------------------------------------------------------------------


def test_overfit_config_is_nielsens_network_with_switchable_remedies():
    base = overfit_config().to_dict()
    assert base["member"] == {"hidden_layers": 1, "hidden_units": 30, "activation": "sigmoid",
                              "dropout_rate": 0.0, "l2": 0.0}  # fmt: skip
    t = base["training"]
    assert (t["train_size"], t["epochs"], t["optimizer"], t["batch_size"]) == (1000, 30, "sgd", 10)
    assert (base["fusion"]["type"], t["early_stopping_patience"]) == ("single", 0)
    every = overfit_config(dropout=True, l2=True, early_stopping=True, fusion=True, epochs=12, seed=4)
    m, t = every.member, every.training
    assert (m.dropout_rate, m.l2, t.early_stopping_patience, m.hidden_units) == (0.3, 1e-3, 3, 30)
    assert (every.fusion.type, every.fusion.num_members, every.fusion.rule) == ("parallel", 5, "soft")
    assert (t.epochs, t.seed) == (12, 4)


# -- command line -------------------------------------------------------------------------------


def test_cli_sweep_prints_json_and_reuses_on_the_second_call(monkeypatch, capsys, synthetic):
    monkeypatch.setattr(jobs, "default_loader", lambda: synthetic)
    argv = ["sweep", "--sizes", "100", "--configs", "single", "--epochs", "1"]
    assert cli.main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    [point] = out["points"]
    assert (point["config_name"], point["train_size"], point["status"], point["reused"]) == (
        "single", 100, "done", False)  # fmt: skip
    assert out["summary"][0]["test_accuracy_mean"] == point["test_accuracy"]
    assert cli.main(argv) == 0
    text = capsys.readouterr().out
    assert "reused" in text and f"run {point['run_id']}" in text


@pytest.mark.parametrize(
    "flags, shown", [(["--sizes", "50"], "size=50"), (["--configs", "single,bogus"], "'bogus'")]
)
def test_cli_sweep_bad_value_exits_2_with_one_line(monkeypatch, capsys, synthetic, flags, shown):
    monkeypatch.setattr(jobs, "default_loader", lambda: synthetic)
    assert cli.main(["sweep", *flags, "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and shown in captured.err
    assert RunStore().list_runs() == []


def test_cli_sweep_missing_data_exits_1_with_one_line(monkeypatch, capsys):
    def missing():
        raise DataError("Could not load MNIST. Sources tried, in order:\n  1. nowhere\nTo fix: ...")

    monkeypatch.setattr(jobs, "default_loader", missing)
    assert cli.main(["sweep", "--sizes", "100", "--configs", "single"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Could not load MNIST" in err


@pytest.mark.mnist
@pytest.mark.slow
def test_overfit_preset_memorises_mnist_and_stalls_on_the_test_set():
    from fusion_core.data import load_mnist
    from fusion_core.train import probabilities, score, train

    try:
        mnist = load_mnist(allow_download=False)
    except DataError as exc:
        pytest.skip(f"MNIST not available offline: {exc}")
    config = overfit_config(epochs=20)
    data = prepare_data(mnist, 1000, config.training.validation_fraction, 0)
    model = train(config, data).model
    train_accuracy = score(probabilities(model, data.x_train), data.y_train)["fused"]["accuracy"]
    test_accuracy = score(probabilities(model, data.x_test), data.y_test)["fused"]["accuracy"]
    assert train_accuracy >= 0.99  # memorised (Nielsen: 100%)
    assert 0.80 <= test_accuracy <= 0.92  # stalled far below (Nielsen: 82.27%; ours ~89%)
