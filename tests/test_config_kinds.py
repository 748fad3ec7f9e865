"""Member kinds in the run configuration: an MLP's stored dict is unchanged, kinds round-trip."""

from __future__ import annotations

import pytest

from fusion_core.config import ConfigError, MemberConfig, RunConfig, make_config
from fusion_core.store import config_key

# The article's network as every stored run holds it: its config key must never change.
ARTICLE_DICT = {
    "member": {"hidden_layers": 2, "hidden_units": 512, "activation": "relu", "dropout_rate": 0.0, "l2": 0.0},
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
        "epochs": 5,
        "batch_size": 128,
        "optimizer": "adam",
        "learning_rate": 0.001,
        "train_size": 60000,
        "validation_fraction": 0.1,
        "seed": 0,
        "early_stopping_patience": 0,
    },
}


def test_an_mlp_only_config_keeps_the_dict_and_key_it_had_before_kinds():
    assert RunConfig().to_dict() == ARTICLE_DICT
    assert config_key(make_config(kinds="mlp").to_dict()) == config_key(ARTICLE_DICT)
    mixed_mlps = make_config("parallel", kinds="mlp,mlp,mlp")
    assert mixed_mlps.members is None and "kind" not in str(mixed_mlps.to_dict())
    per_member = RunConfig(
        members=[MemberConfig(hidden_layers=1), MemberConfig(hidden_layers=2)],
        fusion=make_config("parallel", num_members=2).fusion,
    )
    assert all(set(m) == set(ARTICLE_DICT["member"]) for m in per_member.to_dict()["members"])


def test_a_mixed_config_round_trips_with_each_members_kind():
    config = make_config("parallel", kinds="mlp,cnn,lstm", epochs=1)
    assert config.kinds() == ["mlp", "cnn", "lstm"] and config.fusion.num_members == 3
    data = config.to_dict()
    assert [m.get("kind", "mlp") for m in data["members"]] == ["mlp", "cnn", "lstm"]
    assert "filters" in data["members"][1] and "filters" not in data["members"][2]
    again = RunConfig.from_json(config.to_json()).validate()
    assert again == config and config_key(again.to_dict()) == config_key(data)
    assert config.describe() == "parallel x3 (soft), mlp+cnn+lstm"


def test_each_kind_starts_from_its_measured_default_shape():
    cnn, lstm = MemberConfig.of_kind("cnn"), MemberConfig.of_kind("lstm")
    assert (cnn.filters, cnn.hidden_layers, cnn.hidden_units) == (16, 1, 128)
    assert (lstm.hidden_layers, lstm.hidden_units, lstm.activation) == (1, 64, "tanh")
    one_kind = make_config("parallel", num_members=4, kinds="cnn", hidden_units=64)
    assert one_kind.members is None and one_kind.member.kind == "cnn" and one_kind.member.hidden_units == 64


@pytest.mark.parametrize(
    ("member", "field", "value"),
    [
        (MemberConfig(kind="rnn"), "member.kind", "rnn"),
        (MemberConfig.of_kind("cnn", filters=128), "member.filters", 128),
        (MemberConfig.of_kind("cnn", hidden_layers=3), "member.hidden_layers (of a cnn's dense head)", 3),
        (MemberConfig.of_kind("lstm", hidden_units=1024), "member.hidden_units[0] (of an lstm)", 1024),
    ],
)
def test_kind_settings_are_validated_with_the_value_received(member, field, value):
    with pytest.raises(ConfigError) as info:
        RunConfig(member=member).validate()
    assert info.value.field == field and f"Received: {field}={value!r}" in str(info.value)


def test_kinds_must_be_known_and_one_per_member():
    with pytest.raises(ConfigError, match=r"kinds must be one or more of 'mlp', 'cnn', 'lstm'"):
        make_config("parallel", kinds="mlp,gru")
    with pytest.raises(ConfigError, match=r"one kind, or one per member \(4\)"):
        make_config("parallel", num_members=4, kinds="mlp,cnn")


def test_the_time_estimate_counts_each_kind_at_its_measured_cost():
    from fusion_core.limits import estimate, parameter_count

    def epoch(kinds: str) -> float:
        return estimate(make_config("single", kinds=kinds)).seconds_per_epoch

    mlp, cnn, lstm = epoch("mlp"), epoch("cnn"), epoch("lstm")
    fixed = estimate(make_config("single", kinds="mlp", hidden_units=8)).seconds_per_epoch  # mostly per-step
    assert (cnn - fixed) / (mlp - fixed) == pytest.approx(2.7, rel=0.02)
    assert (lstm - fixed) / (mlp - fixed) == pytest.approx(1.9, rel=0.02)
    # A CNN has a third of the MLP's parameters yet costs more: parameters alone would say less.
    assert parameter_count(make_config("single", kinds="cnn")) < parameter_count(make_config()) / 3


def test_tensorflow_skips_xla_on_a_cpu_only_for_models_with_a_cnn():
    from fusion_core import registry

    assert registry.xla_on_cpu(make_config("parallel", kinds="mlp,lstm"))
    assert not registry.xla_on_cpu(make_config("parallel", kinds="mlp,cnn,lstm"))


def test_the_memory_estimate_holds_a_cnns_feature_maps_for_each_image_of_a_batch():
    from fusion_core.limits import memory_bytes

    def per_batch_growth(**kwargs) -> int:
        small, large = (memory_bytes(make_config("single", batch_size=b, **kwargs)) for b in (128, 256))
        return (large - small) // (2 * 128 * 4)  # activations and their gradients, float32

    assert per_batch_growth() == 784 + 512 + 512 + 10  # the MLP's layer outputs, as before
    maps = 28 * 28 * 16 + 14 * 14 * 16 + 14 * 14 * 32 + 7 * 7 * 32  # each convolution, then its pooling
    assert per_batch_growth(kinds="cnn") == 784 + maps + 128 + 10
    assert per_batch_growth(kinds="lstm") == 784 + 28 * 6 * 64 + 10


@pytest.mark.parametrize("rule", ["weighted", "feature", "stacking", "meta"])
def test_learned_heads_fit_on_mixed_kinds_of_member(rule, prepared):
    """The head phase reads CNN and LSTM members' outputs and hidden layers like an MLP's."""
    import numpy as np

    from fusion_core import heads, registry
    from fusion_core.models import FUSED, build_model

    fusion = next(f for f in registry.FUSIONS if f.rule == rule)
    small = {"hidden_units": 8, "filters": 4, "meta_units": 8}
    config = make_config(fusion.type, rule=rule, kinds="mlp,cnn,lstm", **small)
    model = build_model(config)
    record = heads.fit_head(model, config, prepared.x_train, prepared.y_train, members_seconds=1.0)
    assert record["rule"] == rule and record["fallback"] in (None, heads.VOTE)
    fused = np.asarray(model(prepared.x_val[:8], training=False)[FUSED])
    np.testing.assert_allclose(fused.sum(axis=1), 1.0, rtol=1e-5)
