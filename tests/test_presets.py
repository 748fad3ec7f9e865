"""Lesson-length presets: the '1 minute' fusion fits a minute by the Train page's own estimate."""

from __future__ import annotations

from fusion_core.config import make_config
from fusion_core.limits import estimate
from ui.presets import PRESETS

# What the estimate leaves out: TensorFlow's start-up, tracing each member, the test set and saving.
START_UP_ALLOWANCE_S = 30.0


def test_the_one_minute_preset_is_estimated_well_under_a_minute():
    config = make_config(**PRESETS["minute"]).validate()
    est = estimate(config)
    assert est.total_seconds < 60
    assert est.total_seconds + START_UP_ALLOWANCE_S <= 60
    assert config.kinds() == ["mlp", "cnn", "lstm"] and config.fusion.rule == "soft"
    assert config.training.train_size < 60_000 and config.training.epochs <= 2  # a reduced set
