"""The member initialiser: Glorot uniform by default (stored keys unchanged), N(0, 1) as in Nielsen."""

from __future__ import annotations

import numpy as np
import pytest

from fusion_core.config import ConfigError, MemberConfig, RunConfig, make_config
from fusion_core.experiments import overfit_config
from fusion_core.models import build_model
from fusion_core.store import config_key

# The overfitting lab's plain network and its key as stored before the initialiser existed.
OVERFIT_DICT = {
    "member": {"hidden_layers": 1, "hidden_units": 30, "activation": "sigmoid", "dropout_rate": 0, "l2": 0},
    "members": None,
    "fusion": {
        "type": "single",
        "num_members": 1,
        "rule": "none",
        "bootstrap": False,
        "meta_units": 64,
        "stacking_holdout": 0.2,
    },
    "training": {
        "epochs": 30,
        "batch_size": 10,
        "optimizer": "sgd",
        "learning_rate": 0.05,
        "train_size": 1000,
        "validation_fraction": 0.1,
        "seed": 0,
        "early_stopping_patience": 0,
    },
}
OVERFIT_KEY = "039d34e49411a13e751fe5dd0162e1416be8d06f6009d4460b82b0b2584fb42d"
ARTICLE_KEY = "c27e446291d71a6064efd1e44755bbdec7ce106eba696f5ab88390dcbb88b6b3"


def test_a_default_initialiser_keeps_the_dict_and_key_of_stored_runs():
    assert overfit_config().to_dict() == OVERFIT_DICT
    assert config_key(overfit_config().to_dict()) == OVERFIT_KEY
    assert config_key(RunConfig().to_dict()) == ARTICLE_KEY
    assert "initializer" not in str(overfit_config(fusion=True).to_dict())
    assert RunConfig.from_dict(OVERFIT_DICT).member.initializer == "glorot_uniform"


def test_the_normal_initialiser_round_trips_with_its_own_key():
    config = overfit_config(initializer="normal", fusion=True)
    data = config.to_dict()
    assert data["member"]["initializer"] == "normal"
    again = RunConfig.from_dict(data)
    assert again == config and again.member.initializer == "normal"
    assert config_key(data) != config_key(overfit_config(fusion=True).to_dict())


@pytest.mark.parametrize(
    ("member", "expected"),
    [
        (MemberConfig(initializer="he"), "member.initializer must be one of 'glorot_uniform', 'normal'"),
        (MemberConfig.of_kind("cnn", initializer="normal"), "'glorot_uniform' for a cnn or lstm member"),
    ],
)
def test_an_unknown_or_unsupported_initialiser_is_refused_with_the_value(member, expected):
    with pytest.raises(ConfigError, match=expected) as info:
        member.validate()
    assert "Received: member.initializer=" in str(info.value)


@pytest.mark.parametrize("fusion", [False, True])
def test_normal_weights_have_std_near_one_and_glorot_weights_do_not(fusion):
    """Hidden and output kernels of every member, single or a 5-member committee (built one by one)."""
    normal = build_model(overfit_config(initializer="normal", fusion=fusion), grouped=True)
    glorot = build_model(overfit_config(fusion=fusion), grouped=True)
    kernels = [w for w in normal.weights if "kernel" in w.path and w.path.startswith("member_")]
    assert len(kernels) == (10 if fusion else 2)  # hidden + output per member
    for kernel in kernels:
        values = np.asarray(kernel.numpy())
        assert abs(values.std() - 1.0) < 0.1 and abs(values.mean()) < 0.1, kernel.path
    glorot_hidden = next(w for w in glorot.weights if "kernel" in w.path)
    assert np.asarray(glorot_hidden.numpy()).std() < 0.1  # sqrt(2 / (784 + 30)) ~ 0.05


def test_the_same_seed_gives_the_same_normal_weights():
    first = build_model(make_config("single", hidden_layers=1, hidden_units=16, initializer="normal"))
    second = build_model(make_config("single", hidden_layers=1, hidden_units=16, initializer="normal"))
    for a, b in zip(first.weights, second.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
