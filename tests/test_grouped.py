"""Identical members as grouped layers: the same members, fewer matrix products, the usual layout back."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fusion_core.config import FUSION_RULES, make_config
from fusion_core.layers import GroupedDense
from fusion_core.models import FUSED, build_model, count_params, load_model, member_name
from fusion_core.train import train, ungroup

pytestmark = pytest.mark.jax

GROUPABLE = [(t, r) for t, rules in FUSION_RULES.items() for r in rules if t != "single" and r != "cascade"]


def small(fusion_type="parallel", rule="soft", members=3, **kw):
    kw = {"hidden_units": 16, "hidden_layers": 2, **kw}
    return make_config(fusion_type, num_members=members, rule=rule, **kw)


def forward(model, x):
    return {k: keras.ops.convert_to_numpy(v) for k, v in model(x, training=False).items()}


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(0).random((32, 784)).astype("float32")


def scramble(model, seed=1):
    """Weights unlike any initialisation, so a copy that swaps or misses a slice shows."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in layer.get_weights()])


@pytest.mark.parametrize(("fusion_type", "rule"), GROUPABLE)
def test_grouped_members_start_as_the_plain_members_and_ungroup_to_the_same_function(fusion_type, rule, x):
    config = small(fusion_type, rule)
    grouped, plain = build_model(config, grouped=True), build_model(config)
    assert any(isinstance(layer, GroupedDense) for layer in grouped.layers)
    assert not any(isinstance(layer, GroupedDense) for layer in plain.layers)
    before, reference = forward(grouped, x), forward(plain, x)
    for name in reference:  # same seeds, same initial weights
        np.testing.assert_allclose(before[name], reference[name], rtol=1e-4, atol=1e-6)

    scramble(grouped)
    back = ungroup(grouped, config)
    assert back.get_layer(f"{member_name(2)}_dense_1").get_weights()[0].shape == (16, 16)
    expected, got = forward(grouped, x), forward(back, x)
    assert sorted(got) == sorted(expected)
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-4, atol=1e-6)


def test_members_that_differ_are_not_grouped():
    config = small(hidden_units=[16, 8])
    config.members = [config.member, make_config("single", hidden_units=[8, 8]).member, config.member]
    model = build_model(config.validate(), grouped=True)
    assert not any(isinstance(layer, GroupedDense) for layer in model.layers)


def test_a_grouped_model_saves_and_loads(tmp_path, x):
    model = build_model(small("parallel", "weighted"), grouped=True)
    scramble(model)
    path = tmp_path / "grouped.keras"
    model.save(path)
    loaded = load_model(path)
    for name, probs in forward(model, x).items():
        np.testing.assert_allclose(forward(loaded, x)[name], probs, rtol=1e-5, atol=1e-7)


def test_training_grouped_returns_the_plain_layout_with_its_parameter_counts(prepared, monkeypatch):
    import fusion_core.train as trainer

    # train() groups members on a GPU and under TensorFlow; pretend to have a GPU so it groups here.
    gpu = {"backend": "jax", "device": "GPU (test)", "gpu": True}
    monkeypatch.setattr(trainer, "device_info", lambda: gpu)
    built = []
    monkeypatch.setattr(trainer, "build_model", lambda c, **kw: built.append(kw) or build_model(c, **kw))
    config = small(epochs=1, batch_size=50)
    outcome = train(config, prepared)
    assert built[0] == {"grouped": True}
    names = {layer.name for layer in outcome.model.layers}
    assert {f"{member_name(k)}_dense_{i}" for k in range(3) for i in range(2)} <= names
    counts = count_params(outcome.model, 3)
    per_member = 784 * 16 + 16 + 16 * 16 + 16 + 16 * 10 + 10
    assert [counts[member_name(k)] for k in range(3)] == [per_member] * 3 and counts[FUSED] == 0
    acc = np.mean(forward(outcome.model, prepared.x_val)[FUSED].argmax(1) == prepared.y_val)
    assert acc > 0.5  # the trained weights came across
