"""validation_fraction 0: the article's code keeps no validation images, and every layer copes.

Config accepts 0 (and nothing between 0 and 0.01) and refuses early stopping without a validation
set; the split gives every image to training; train() streams training points only, learned heads
included; evaluate() still scores the test set; the live chart draws no validation curve or key.
"""

from __future__ import annotations

import numpy as np
import pytest

from fusion_core.config import ConfigError, make_config
from fusion_core.data import prepare_data, split_train_validation
from fusion_core.evaluate import evaluate
from fusion_core.models import FUSED
from fusion_core.train import event_rows, train
from ui.charts import curves_figure
from ui.presets import PRESETS


def test_the_article_preset_keeps_no_validation_images_and_trains_on_all_60000():
    config = make_config(**PRESETS["article_code"])
    tc = config.training
    assert (tc.validation_fraction, tc.batch_size, tc.epochs, tc.train_size) == (0.0, 32, 5, 60_000)
    assert (tc.optimizer, tc.learning_rate) == ("adam", 1e-3)
    assert config.fusion.type == "single" and config.member.units_per_layer() == [512, 512]
    assert make_config(**PRESETS["article"]).training.validation_fraction == 0.1  # still there


@pytest.mark.parametrize("value", [0.005, -0.1, 0.6, True])
def test_a_fraction_between_none_and_the_minimum_is_refused_with_what_is_allowed(value):
    with pytest.raises(ConfigError, match=r"0 \(no hold-out\) or a number in \[0.01, 0.5\]"):
        make_config(validation_fraction=value)


def test_early_stopping_without_validation_images_is_refused():
    with pytest.raises(ConfigError, match="early_stopping_patience must be 0 when"):
        make_config(validation_fraction=0.0, early_stopping_patience=3)


def test_the_split_with_no_hold_out_gives_every_image_to_training(synthetic):
    pool, val = split_train_validation(synthetic.y_train, 0.0)
    assert len(pool) == len(synthetic.y_train) and len(val) == 0
    data = prepare_data(synthetic, train_size=60_000, validation_fraction=0.0, seed=0)
    assert data.n_train == len(synthetic.y_train) and data.n_val == 0
    assert data.x_val.shape == (0, 784) and data.y_val.shape == (0,)


@pytest.mark.parametrize(
    "fusion", [("single", "none", 1), ("parallel", "soft", 2), ("serial", "stacking", 2)]
)
def test_training_without_validation_streams_training_points_and_scores_the_test_set(synthetic, fusion):
    fusion_type, rule, members = fusion
    config = make_config(fusion_type, members, rule, hidden_units=16, epochs=2, batch_size=50,
                         train_size=600, validation_fraction=0.0)  # fmt: skip
    data = prepare_data(synthetic, config.training.train_size, 0.0, 0)
    events = []
    outcome = train(config, data, on_event=events.append)
    assert outcome.status == "done" and outcome.epochs_completed == 2
    assert events and {e["split"] for e in events} == {"train"}
    assert events[-1]["seen"] == 2 * data.n_train
    results = evaluate(outcome.model, data.x_test, data.y_test, members)
    assert 0.0 <= results["fused_accuracy"] <= 1.0 and results["series"][FUSED]["test_accuracy"] >= 0.0

    rows = [row for event in events for row in event_rows(event)]
    figure = curves_figure(rows, metric="accuracy", title="Accuracy")
    assert figure.data and all(trace.line.dash != "dash" for trace in figure.data)  # no validation key
    assert not any(np.isnan(row["accuracy"]) for row in rows)


def test_a_job_without_validation_is_stored_with_training_curves_and_test_results(synthetic, tmp_path):
    from fusion_core import jobs
    from fusion_core.store import RunStore

    config = make_config("single", hidden_units=16, epochs=1, batch_size=50, train_size=600,
                         validation_fraction=0.0)  # fmt: skip
    store = RunStore(tmp_path / "runs.sqlite")
    run_id = jobs.submit(store, config, name="the article's code")
    assert jobs.run_here(store, run_id, data_loader=lambda: synthetic) == "done"
    run = store.get_run(run_id)
    assert run["results"]["n_val"] == 0 and run["results"]["n_train"] == 600  # no image held out
    assert 0.0 <= run["results"]["fused_accuracy"] <= 1.0
    assert {m["split"] for m in store.metrics(run_id)} == {"train"}
    store.close()
