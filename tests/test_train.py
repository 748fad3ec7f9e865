"""The trainer: streaming events, stop requests, reproducibility, per-output sample weights."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import fusion_core.train as trainer
from fusion_core.config import make_config
from fusion_core.models import FUSED, member_name
from fusion_core.train import (
    CPU_FLOPS,
    STOP_BUDGET_S,
    choose_steps_per_execution,
    event_rows,
    pad_to_full_batches,
    sample_weights,
    train,
)

pytestmark = pytest.mark.jax


def tiny(fusion_type="parallel", rule="soft", members=2, **kw):
    kw.setdefault("epochs", 1)
    kw.setdefault("batch_size", 20)
    return make_config(
        fusion_type,
        num_members=1 if fusion_type == "single" else members,
        rule=rule,
        hidden_units=16,
        learning_rate=0.01,
        **kw,
    )


def test_one_epoch_streams_training_points_every_20_batches_and_4_validation_points(prepared):
    events = []
    config = tiny()
    outcome = train(config, prepared, on_event=events.append)
    assert outcome.status == "done"
    steps = -(-len(prepared.x_train) // 20)
    train_steps = [e["step"] for e in events if e["split"] == "train"]
    val_events = [e for e in events if e["split"] == "val"]
    assert len(val_events) >= 4
    gaps = np.diff([0, *train_steps])
    assert gaps.max() <= 20 and train_steps[-1] == steps
    for event in events:
        assert set(event["series"]) == {member_name(0), member_name(1), FUSED}
        assert {"step", "epoch", "seen", "elapsed", "total_steps"} <= set(event)
        for values in event["series"].values():
            assert 0.0 <= values["accuracy"] <= 1.0 and values["loss"] >= 0.0
    assert [e["elapsed"] for e in events] == sorted(e["elapsed"] for e in events)
    assert events[-1]["seen"] == len(prepared.x_train)


def test_training_learns_the_synthetic_signal(prepared):
    config = tiny(epochs=3)
    events = []
    train(config, prepared, on_event=events.append)
    last_val = [e for e in events if e["split"] == "val"][-1]
    assert last_val["series"][FUSED]["accuracy"] > 0.8  # chance is 0.1


@pytest.mark.parametrize("steps_per_execution", [1, 4])
def test_stop_request_is_honoured_within_one_execution_and_keeps_the_history(prepared, steps_per_execution):
    # Keras runs `steps_per_execution` batches per call and the callback sees only the end of each
    # call: "within one batch" becomes "within one execution" (N = 1: the very next batch).
    stop = threading.Event()

    def on_event(event):
        if event["step"] >= 5:
            stop.set()

    outcome = train(
        tiny(epochs=3, batch_size=10),
        prepared,
        on_event=on_event,
        stop_event=stop,
        log_every=5,
        steps_per_execution=steps_per_execution,
    )
    assert outcome.status == "stopped"
    assert outcome.steps_per_execution == steps_per_execution
    assert outcome.events[-1]["step"] <= 5 + steps_per_execution  # at most one more execution runs
    assert outcome.epochs_completed < 3
    assert any(e["split"] == "val" and e["step"] > 0 for e in outcome.events)


def test_with_several_steps_per_execution_points_fall_on_execution_ends(prepared):
    events = []
    outcome = train(tiny(batch_size=10), prepared, on_event=events.append, log_every=8, steps_per_execution=4)
    steps = -(-len(prepared.x_train) // 10)
    train_steps = [e["step"] for e in events if e["split"] == "train"]
    assert all(s % 4 == 0 or s == steps for s in train_steps)
    assert np.diff(train_steps).max() <= 8 and train_steps[-1] == steps
    assert outcome.epochs_completed == 1.0 and events[-1]["seen"] == len(prepared.x_train)


def test_first_event_is_the_untrained_models_validation_point(prepared):
    events = []
    train(tiny(), prepared, on_event=events.append)
    first = events[0]
    assert (first["split"], first["step"], first["epoch"], first["seen"]) == ("val", 0, 0.0, 0)
    assert first["series"][FUSED]["accuracy"] < 0.5  # chance level: nothing trained yet
    assert events[1]["elapsed"] >= first["elapsed"]


def test_a_last_partial_batch_is_padded_so_the_step_is_not_traced_again(prepared, monkeypatch):
    n = len(prepared.x_train)
    whole = next(b for b in range(50, 100) if n % b == 0)  # every batch full
    partial = next(b for b in range(50, 100) if n % b)  # a smaller last batch without padding
    original = trainer.compile_model

    def traces_of(batch_size: int) -> tuple[int, list[dict]]:
        traces = []

        def counting(model, *args, **kwargs):
            model = original(model, *args, **kwargs)
            inner = model.train_step

            def step(*a, **k):  # runs once per trace of the training step
                traces.append(1)
                return inner(*a, **k)

            model.train_step = step
            return model

        monkeypatch.setattr(trainer, "compile_model", counting)
        events = []
        train(tiny(batch_size=batch_size, epochs=2), prepared, on_event=events.append)
        return len(traces), events

    full_traces, _ = traces_of(whole)
    partial_traces, events = traces_of(partial)
    assert partial_traces == full_traces  # TensorFlow traces twice on first use, JAX once
    steps = -(-n // partial)
    assert events[-1]["step"] == events[-1]["total_steps"] == 2 * steps
    assert events[-1]["seen"] == 2 * n  # the padding rows are not counted as seen


def test_padding_rows_weigh_nothing_and_real_rows_keep_their_weights():
    x = np.arange(10 * 3, dtype="float32").reshape(10, 3)
    y = np.arange(10) % 3
    bagged = {"member_0": np.array([2, 0, 1, 1, 3, 0, 1, 1, 0, 1], dtype="float32")}
    xp, yp, wp = pad_to_full_batches(x, y, bagged, ["member_0"], 4)
    assert len(xp) == len(yp) == len(wp["member_0"]) == 12
    assert np.array_equal(xp[:10], x) and np.array_equal(yp[:10], y)
    assert np.array_equal(wp["member_0"][:10], bagged["member_0"]) and not wp["member_0"][10:].any()
    _, _, plain = pad_to_full_batches(x, y, None, ["member_0", FUSED], 5)
    assert set(plain) == {"member_0", FUSED} and plain[FUSED].sum() == 10


def test_steps_per_execution_keeps_one_execution_within_the_stop_budget():
    article = 669_706  # the article's network: 784-512-512-10
    n = choose_steps_per_execution(article, 128)
    assert 20 % n == 0 and n > 1
    assert n * 6 * article * 128 / CPU_FLOPS <= STOP_BUDGET_S
    assert choose_steps_per_execution(50_000_000, 128) == 1  # a slow step: every batch
    assert choose_steps_per_execution(1_000, 32) == 20
    assert choose_steps_per_execution(1_000, 32, log_every=6) == 6
    assert choose_steps_per_execution(1_000, 32, log_every=7) == 7


def test_same_seed_same_curves_and_another_seed_differs(prepared):
    def losses(seed):
        events = []
        train(tiny(seed=seed), prepared, on_event=events.append)
        return [round(e["series"][FUSED]["loss"], 5) for e in events]

    first = losses(7)
    assert first == losses(7)
    assert first != losses(8)


def test_early_stopping_stops_and_restores_the_best_epoch(prepared):
    config = tiny(epochs=6, early_stopping_patience=1)
    config.training.learning_rate = 1e-6  # nothing improves after the first epoch
    outcome = train(config, prepared)
    assert outcome.stopped_early
    assert outcome.best_epoch == 1
    assert outcome.epochs_completed == 2


def test_event_rows_flatten_one_row_per_series():
    event = {
        "split": "val",
        "step": 3,
        "epoch": 0.5,
        "seen": 60,
        "elapsed": 1.0,
        "total_steps": 6,
        "series": {"member_0": {"loss": 1.0, "accuracy": 0.5}, "fused": {"loss": 0.9, "accuracy": 0.6}},
    }
    rows = event_rows(event)
    assert [r["series"] for r in rows] == ["member_0", "fused"]
    assert rows[1] == {
        "split": "val",
        "step": 3,
        "epoch": 0.5,
        "seen": 60,
        "elapsed": 1.0,
        "series": "fused",
        "loss": 0.9,
        "accuracy": 0.6,
    }


def test_no_sample_weights_for_plain_fusions():
    assert sample_weights(tiny(), 100) is None


def test_stacking_members_never_see_the_meta_learners_holdout():
    weights = sample_weights(tiny("serial", "stacking", members=3, stacking_holdout=0.25), 400)
    fused = weights[FUSED]
    assert fused.sum() == 100
    for k in range(3):
        assert np.all(weights[member_name(k)][fused == 1] == 0)
        assert np.all(weights[member_name(k)][fused == 0] == 1)


def test_bagging_gives_each_member_its_own_bootstrap_resample():
    weights = sample_weights(tiny("parallel", "soft", members=3, bootstrap=True), 500)
    counts = [weights[member_name(k)] for k in range(3)]
    for c in counts:
        assert c.sum() == 500 and c.min() == 0 and c.max() >= 2  # drawn with replacement
        assert 0.55 < np.mean(c > 0) < 0.7  # about 1 - 1/e of the examples are drawn
    assert not np.array_equal(counts[0], counts[1])


@pytest.mark.parametrize(
    ("fusion_type", "rule"),
    [("parallel", "weighted"), ("parallel", "feature"), ("serial", "stacking"), ("hybrid", "meta")],
)
def test_trainable_fusions_learn_beyond_chance(fusion_type, rule, prepared):
    events = []
    train(tiny(fusion_type, rule, epochs=3), prepared, on_event=events.append)
    last_val = [e for e in events if e["split"] == "val"][-1]
    assert last_val["series"][FUSED]["accuracy"] > 0.5
