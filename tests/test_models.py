"""Fusion semantics checked against NumPy references, for every fusion type and rule.

The contract every registry entry keeps (build, train, save and load, parameter counts) and the
soft-vote and one-member references are in tests/test_registry.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from fusion_core.config import FUSION_RULES, make_config
from fusion_core.models import FUSED, build_model, count_params, member_name, output_names
from fusion_core.registry import HEAD

pytestmark = pytest.mark.jax


def test_runs_on_the_backend_the_environment_names():
    import os

    import keras

    assert keras.backend.backend() == os.environ.get("KERAS_BACKEND", "tensorflow")


ALL_FUSIONS = [(t, r) for t, rules in FUSION_RULES.items() for r in rules]


def small(fusion_type: str, rule: str, members: int = 3, **kw):
    return make_config(
        fusion_type, num_members=1 if fusion_type == "single" else members, rule=rule, hidden_units=16, **kw
    )


def forward(model, x):
    out = model(x, training=False)
    import keras

    return {k: keras.ops.convert_to_numpy(v) for k, v in out.items()}


def dense(model, name, x, activation=None):
    kernel, bias = model.get_layer(name).get_weights()
    z = x @ kernel + bias
    if activation == "relu":
        return np.maximum(z, 0)
    if activation == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return z


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(0).random((64, 784)).astype("float32")


@pytest.mark.parametrize(("fusion_type", "rule"), ALL_FUSIONS)
def test_every_fusion_outputs_members_and_fused_distributions(fusion_type, rule, x):
    config = small(fusion_type, rule)
    out = forward(build_model(config), x)
    assert sorted(out) == sorted(output_names(config))
    for name, probs in out.items():
        assert probs.shape == (64, 10), name
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5, err_msg=name)


def test_hard_voting_is_the_majority_with_ties_broken_by_summed_probability(x):
    out = forward(build_model(small("parallel", "hard", members=4)), x)
    members = np.stack([out[member_name(k)] for k in range(4)])  # (K, n, 10)
    votes = np.zeros((len(x), 10))
    for k in range(4):
        votes[np.arange(len(x)), members[k].argmax(axis=1)] += 1
    summed = members.sum(axis=0)
    expected = [
        max(np.flatnonzero(v == v.max()), key=lambda c, i=i: summed[i, c]) for i, v in enumerate(votes)
    ]
    np.testing.assert_array_equal(out[FUSED].argmax(axis=1), expected)


def test_hard_voting_tie_goes_to_the_larger_summed_probability():
    from fusion_core.layers import HardVote

    a = np.array([[0.6, 0.4, 0, 0, 0, 0, 0, 0, 0, 0]], "float32")  # votes 0
    b = np.array([[0.1, 0.9, 0, 0, 0, 0, 0, 0, 0, 0]], "float32")  # votes 1, more confident
    import keras

    fused = keras.ops.convert_to_numpy(HardVote()([a, b]))
    assert fused.argmax() == 1
    np.testing.assert_allclose(fused.sum(), 1.0, rtol=1e-6)


def test_learned_weights_start_equal_and_are_a_normalised_weighted_mean(x):
    model = build_model(small("parallel", "weighted", members=3))
    out = forward(model, x)
    members = np.stack([out[member_name(k)] for k in range(3)])
    np.testing.assert_allclose(out[FUSED], members.mean(axis=0), rtol=1e-5, atol=1e-7)
    logits = np.array([1.0, -0.5, 0.2], "float32")
    model.get_layer(HEAD).set_weights([logits])
    w = np.exp(logits) / np.exp(logits).sum()
    out = forward(model, x)
    np.testing.assert_allclose(out[FUSED], np.einsum("k,knc->nc", w, members), rtol=1e-5, atol=1e-7)


def test_single_network_is_the_articles_stacked_network(x):
    config = make_config("single", hidden_layers=2, hidden_units=512)
    model = build_model(config)
    y = dense(model, "member_0_dense_0", x, "relu")
    z = dense(model, "member_0_dense_1", y, "relu")
    o = dense(model, "member_0", z, "softmax")
    out = forward(model, x)
    np.testing.assert_allclose(out[FUSED], o, rtol=1e-4, atol=1e-6)
    assert count_params(model, 1)["total"] == 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10


def hidden_of(model, k, x):
    h = x
    i = 0
    while True:
        try:
            h = dense(model, f"{member_name(k)}_dense_{i}", h, "relu")
        except ValueError:
            return h
        i += 1


def test_feature_fusion_is_a_softmax_head_on_concatenated_last_hidden_layers(x):
    model = build_model(small("parallel", "feature", members=3))
    features = np.concatenate([hidden_of(model, k, x) for k in range(3)], axis=1)
    np.testing.assert_allclose(
        forward(model, x)[FUSED], dense(model, HEAD, features, "softmax"), rtol=1e-4, atol=1e-6
    )


def test_cascade_stage_sees_image_and_previous_answer_and_fusion_is_last_stage(x):
    model = build_model(small("serial", "cascade", members=3, hidden_layers=1))
    out = forward(model, x)
    stage1_in = np.concatenate([x, out[member_name(0)]], axis=1)
    h = dense(model, "member_1_dense_0", stage1_in, "relu")
    np.testing.assert_allclose(
        out[member_name(1)], dense(model, "member_1", h, "softmax"), rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(out[FUSED], out[member_name(2)], rtol=1e-6)


def test_stacking_meta_learner_is_logistic_regression_on_member_probabilities(x):
    model = build_model(small("serial", "stacking", members=3))
    out = forward(model, x)
    joined = np.concatenate([out[member_name(k)] for k in range(3)], axis=1)
    np.testing.assert_allclose(out[FUSED], dense(model, HEAD, joined, "softmax"), rtol=1e-4, atol=1e-6)


def test_hybrid_meta_network_sees_image_and_member_probabilities(x):
    model = build_model(small("hybrid", "meta", members=2))
    out = forward(model, x)
    joined = np.concatenate([x, out[member_name(0)], out[member_name(1)]], axis=1)
    expected = dense(model, HEAD, dense(model, "meta_dense", joined, "relu"), "softmax")
    np.testing.assert_allclose(out[FUSED], expected, rtol=1e-4, atol=1e-6)


def test_members_start_from_different_weights(x):
    out = forward(build_model(small("parallel", "soft", members=2)), x)
    assert not np.allclose(out[member_name(0)], out[member_name(1)])


def test_count_params_splits_members_and_fusion():
    model = build_model(small("parallel", "feature", members=2, hidden_layers=1))
    counts = count_params(model, 2)
    assert counts[member_name(0)] == 784 * 16 + 16 + 16 * 10 + 10
    assert counts[FUSED] == 32 * 10 + 10
    assert counts["total"] == model.count_params()
