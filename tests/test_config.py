"""Run configuration: defaults, validation messages, and the JSON round trip."""

from __future__ import annotations

import json

import pytest

from fusion_core.config import ConfigError, FusionConfig, MemberConfig, RunConfig, TrainConfig, make_config


def test_defaults_are_the_articles_example():
    config = RunConfig().validate()
    assert config.member.units_per_layer() == [512, 512]
    assert config.member.activations_per_layer() == ["relu", "relu"]
    assert (config.fusion.type, config.fusion.num_members) == ("single", 1)
    t = config.training
    assert (t.optimizer, t.batch_size, t.epochs, t.train_size) == ("adam", 128, 5, 60_000)


@pytest.mark.parametrize(
    ("config", "field", "value"),
    [
        (RunConfig(member=MemberConfig(hidden_layers=9)), "member.hidden_layers", 9),
        (RunConfig(member=MemberConfig(hidden_units=4)), "member.hidden_units", 4),
        (RunConfig(member=MemberConfig(hidden_units=[64, 5000])), "member.hidden_units[1]", 5000),
        (RunConfig(member=MemberConfig(activation="softplus")), "member.activation", "softplus"),
        (RunConfig(member=MemberConfig(dropout_rate=1.0)), "member.dropout_rate", 1.0),
        (RunConfig(fusion=FusionConfig(type="pyramid")), "fusion.type", "pyramid"),
        (RunConfig(fusion=FusionConfig(type="single", num_members=3)), "fusion.num_members", 3),
        (
            RunConfig(fusion=FusionConfig(type="parallel", num_members=11, rule="soft")),
            "fusion.num_members",
            11,
        ),
        (RunConfig(training=TrainConfig(optimizer="adagrad")), "training.optimizer", "adagrad"),
        (RunConfig(training=TrainConfig(train_size=99)), "training.train_size", 99),
        (RunConfig(training=TrainConfig(epochs=True)), "training.epochs", True),
    ],
)
def test_validation_names_the_field_the_value_and_what_is_allowed(config, field, value):
    with pytest.raises(ConfigError) as info:
        config.validate()
    assert info.value.field == field and info.value.value == value
    message = str(info.value)
    assert field in message and f"Received: {field}={value!r}" in message and " must be " in message


def test_a_rule_must_fit_its_fusion_type():
    expected = r"fusion.rule \(for type 'serial'\) must be one of 'cascade', 'stacking'"
    with pytest.raises(ConfigError, match=expected):
        RunConfig(fusion=FusionConfig(type="serial", num_members=2, rule="soft")).validate()


def test_per_layer_lists_must_match_the_layer_count():
    with pytest.raises(ConfigError, match="a list of 3 values"):
        MemberConfig(hidden_layers=3, hidden_units=[64, 64]).validate()
    member = MemberConfig(hidden_layers=2, hidden_units=[256, 64], activation=["tanh", "sigmoid"]).validate()
    assert member.units_per_layer() == [256, 64] and member.activations_per_layer() == ["tanh", "sigmoid"]


def test_members_each_with_their_own_architecture():
    members = [MemberConfig(hidden_layers=1, hidden_units=32), MemberConfig(hidden_layers=3, hidden_units=16)]
    config = RunConfig(members=members, fusion=FusionConfig(type="parallel", num_members=2, rule="soft"))
    assert config.validate().member_configs() == members
    config.fusion.num_members = 3
    with pytest.raises(ConfigError, match="one config per member"):
        config.validate()


@pytest.mark.parametrize("fusion_type", ["single", "parallel", "serial", "hybrid"])
def test_json_round_trip_rebuilds_an_equal_config(fusion_type):
    config = make_config(fusion_type, hidden_units=64, dropout_rate=0.2, epochs=2, seed=5)
    text = config.to_json()
    assert json.loads(text) == config.to_dict()
    assert RunConfig.from_json(text) == config
    mixed = RunConfig(
        members=[MemberConfig(hidden_layers=1), MemberConfig(hidden_layers=2)],
        fusion=FusionConfig(type="parallel", num_members=2, rule="hard"),
    )
    assert RunConfig.from_dict(mixed.to_dict()) == mixed


def test_unknown_fields_are_refused_by_name():
    data = RunConfig().to_dict()
    data["training"]["epochz"] = 3
    with pytest.raises(ConfigError, match="training.epochz"):
        RunConfig.from_dict(data)


def test_make_config_routes_keywords_and_refuses_strangers():
    config = make_config("parallel", num_members=4, hidden_layers=3, epochs=7, bootstrap=True)
    assert (config.fusion.rule, config.member.hidden_layers, config.training.epochs) == ("soft", 3, 7)
    assert config.fusion.bootstrap
    with pytest.raises(ConfigError, match="colour"):
        make_config("single", colour="blue")


def test_describe_is_short_and_readable():
    assert make_config("single").describe() == "single, 2x512 relu"
    assert make_config("parallel", num_members=5, bootstrap=True).describe() == (
        "parallel x5 (soft, bagging), 2x512 relu"
    )
