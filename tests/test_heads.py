"""The head phase: learned fusion heads fitted on the frozen members' held-out outputs, or set aside."""

from __future__ import annotations

import numpy as np
import pytest

from fusion_core import heads, registry
from fusion_core.config import make_config
from fusion_core.models import FUSED, build_model, load_model, member_name
from fusion_core.registry import FUSIONS
from fusion_core.train import probabilities, train

pytestmark = pytest.mark.jax

LEARNED = [f for f in FUSIONS if f.learned_head]


def tiny(fusion, members=3, **kw):
    kw.setdefault("epochs", 1)
    kw.setdefault("batch_size", 50)
    return make_config(
        fusion.type,
        num_members=1 if fusion.one_member else members,
        rule=fusion.rule,
        hidden_units=16,
        meta_units=16,
        learning_rate=0.01,
        **kw,
    )


def member_weights(model, members):
    owned = [layer for layer in model.layers if registry.layer_owner(layer.name) is not None]
    return [w.copy() for layer in owned for w in layer.get_weights()]


def soft_vote(out, members):
    return np.mean([out[member_name(k)] for k in range(members)], axis=0)


def test_learned_heads_are_the_four_rules_with_weights_of_their_own_and_all_hold_out_data():
    assert {f.rule for f in LEARNED} == {"weighted", "feature", "stacking", "meta"}
    assert all(f.uses_holdout for f in LEARNED)
    assert not any(f.learned_head for f in FUSIONS if f.is_vote or f.rule in ("cascade", "none"))


@pytest.mark.parametrize("fusion", FUSIONS, ids=lambda f: f.rule)
def test_the_head_phase_runs_only_for_rules_with_a_learned_head(fusion, prepared):
    config = tiny(fusion)
    model = build_model(config)
    before = [w.copy() for w in model.get_weights()]
    record = heads.fit_head(model, config, prepared.x_train, prepared.y_train, members_seconds=1.0)
    if not fusion.learned_head:
        assert record is None
        assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    else:
        assert record["rule"] == fusion.rule and record["held_out"] == round(len(prepared.x_train) * 0.2)
        assert record["fallback"] in (None, heads.VOTE)


@pytest.mark.parametrize("fusion", LEARNED, ids=lambda f: f.rule)
def test_the_head_phase_leaves_the_frozen_members_unchanged(fusion, prepared):
    config = tiny(fusion)
    model = train(config, prepared).model
    members = config.fusion.num_members
    before = member_weights(model, members)
    out_before = probabilities(model, prepared.x_val)
    heads.fit_head(model, config, prepared.x_train, prepared.y_train, members_seconds=5.0)
    after = member_weights(model, members)
    assert len(before) == len(after) > 0
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    out_after = probabilities(model, prepared.x_val)
    for k in range(members):
        np.testing.assert_array_equal(out_before[member_name(k)], out_after[member_name(k)])


def test_a_weighted_average_starts_as_the_soft_vote_and_stays_there_for_identical_members(prepared):
    config = tiny(registry.get_fusion("parallel", "weighted"))
    model = build_model(config)
    head = heads.WeightsHead(model, heads.head_layers(model))
    probs = [np.random.default_rng(k).dirichlet(np.ones(10), size=50) for k in range(3)]
    np.testing.assert_allclose(head.predict(head.start(), probs), np.mean(probs, axis=0), rtol=1e-6)
    # Three copies of one member: nothing to prefer, so the fit keeps equal weights (the soft vote).
    y = np.argmax(probs[0], axis=1)
    params, _, in_time = heads.fit_lbfgs(head, [probs[0]] * 3, y, deadline=float("inf"))
    assert in_time
    np.testing.assert_allclose(heads._softmax(params), np.full(3, 1 / 3), atol=1e-6)


def test_learned_weights_move_towards_the_better_member():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 400)
    good = np.full((400, 10), 0.02)
    good[np.arange(400), y] = 0.82
    bad = rng.dirichlet(np.ones(10), size=400)
    config = tiny(registry.get_fusion("parallel", "weighted"), members=2)
    model = build_model(config)
    head = heads.WeightsHead(model, heads.head_layers(model))
    params, iterations, _ = heads.fit_lbfgs(head, [good, bad], y, deadline=float("inf"))
    weights = heads._softmax(params)
    assert iterations > 0 and weights[0] > 0.8


def test_too_few_held_out_images_fall_back_to_the_soft_vote_with_the_reason(prepared, tmp_path):
    config = tiny(registry.get_fusion("serial", "stacking"), stacking_holdout=0.05)
    model = build_model(config)
    x, y = prepared.x_train[:400], prepared.y_train[:400]  # 5% of 400: 20 held-out images
    record = heads.fit_head(model, config, x, y, members_seconds=1.0)
    assert record["fallback"] == "soft vote" and record["held_out"] == 20
    assert "only 20 training images" in record["reason"] and str(heads.MIN_HELD_OUT) in record["reason"]
    out = probabilities(model, prepared.x_val)
    np.testing.assert_allclose(out[FUSED], soft_vote(out, 3), rtol=1e-5, atol=1e-7)
    # The choice is saved with the model: reloaded, it still answers with the vote.
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = probabilities(load_model(path), prepared.x_val)
    np.testing.assert_allclose(reloaded[FUSED], out[FUSED], rtol=1e-5, atol=1e-7)


def test_a_head_below_the_vote_on_held_out_images_is_set_aside_with_the_reason(prepared, monkeypatch):
    config = tiny(registry.get_fusion("hybrid", "meta"))
    model = train(config, prepared).model

    def always_wrong(head, inputs, y, deadline, seed):  # a head that learned nothing useful
        wrong = np.zeros((len(y), 10))
        wrong[np.arange(len(y)), (y + 1) % 10] = 1.0
        return wrong, 0.1

    monkeypatch.setattr(heads, "_cross_fitted", always_wrong)
    record = heads.fit_head(model, config, prepared.x_train, prepared.y_train, members_seconds=1.0)
    assert record["fallback"] == "soft vote" and record["head_accuracy"] == 0.0
    assert "it scored 0.0% against" in record["reason"]
    assert "not better by more than the noise" in record["reason"]
    out = probabilities(model, prepared.x_val)
    np.testing.assert_allclose(out[FUSED], soft_vote(out, 3), rtol=1e-5, atol=1e-7)


def test_a_stopped_run_sets_the_head_aside_and_says_why(prepared):
    config = tiny(registry.get_fusion("parallel", "feature"))
    model = build_model(config)
    x, y = prepared.x_train, prepared.y_train
    record = heads.fit_head(model, config, x, y, members_seconds=1.0, stopped=True)
    assert record["fallback"] == "soft vote" and "stopped" in record["reason"]


def test_train_records_the_head_and_adds_one_validation_point_after_it(prepared):
    events = []
    config = tiny(registry.get_fusion("serial", "stacking"))
    outcome = train(config, prepared, on_event=events.append)
    assert outcome.head is not None and outcome.head["held_out"] == 200
    assert outcome.head["seconds"] < max(heads.MIN_SECONDS, heads.TIME_SHARE * outcome.train_seconds) + 1.0
    last = events[-1]
    assert last["split"] == "val" and last["step"] == events[-2]["step"]
    assert set(last["series"]) == {member_name(0), member_name(1), member_name(2), FUSED}
    vote = train(tiny(registry.get_fusion("parallel", "soft")), prepared)
    assert vote.head is None


def test_held_out_size_matches_the_split_training_makes(prepared):
    config = tiny(registry.get_fusion("serial", "stacking"), train_size=1000)
    assert heads.held_out_size(config) == len(heads.held_out_rows(config, 1000)) == 200
    assert heads.held_out_size(tiny(registry.get_fusion("parallel", "soft"))) == 0


def test_learned_weights_set_aside_for_the_vote_read_as_equal_weights(prepared):
    from fusion_core.jobs import _member_weights

    config = tiny(registry.get_fusion("parallel", "weighted"), stacking_holdout=0.05)
    model = build_model(config)
    model.get_layer(registry.HEAD).set_weights([np.array([2.0, 0.0, -1.0], "float32")])
    x, y = prepared.x_train[:400], prepared.y_train[:400]  # 20 held-out images: too few
    record = heads.fit_head(model, config, x, y, members_seconds=1.0)
    assert record["fallback"] == "soft vote"
    assert _member_weights(model) == [0.3333, 0.3333, 0.3333]
