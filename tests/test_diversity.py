"""The diversity numbers behind "why did the fusion help", checked on hand-made label arrays."""

import json

import numpy as np
import pytest

from fusion_core.diversity import diversity, error_correlation

Y = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])


def test_identical_members_never_disagree_and_err_alike():
    member = np.array([0, 1, 2, 3, 4, 5, 6, 7, 0, 0])  # 80% right
    d = diversity([member, member.copy(), member.copy()], member, Y)
    assert d["mean_disagreement"] == 0.0
    assert d["mean_error_correlation"] == pytest.approx(1.0)
    assert d["oracle_accuracy"] == pytest.approx(0.8)
    assert d["best_member_accuracy"] == pytest.approx(0.8)
    assert d["fused_accuracy"] == pytest.approx(0.8)
    assert len(d["pairs"]) == 3


def test_complementary_members_have_a_perfect_oracle():
    a = Y.copy()
    a[:5] = 9  # wrong on the first half
    b = Y.copy()
    b[5:] = 0  # wrong on the second half
    fused = Y.copy()
    fused[0] = 1
    d = diversity([a, b], fused, Y)
    assert d["oracle_accuracy"] == 1.0
    assert d["member_accuracies"] == [0.5, 0.5]
    assert d["pairs"][0]["disagreement"] == 1.0
    assert d["pairs"][0]["error_correlation"] == pytest.approx(-1.0)
    assert d["fused_accuracy"] == pytest.approx(0.9)


def test_per_pair_numbers_and_best_member():
    a = Y.copy()  # perfect
    b = Y.copy()
    b[[0, 1]] = 5  # two mistakes
    c = Y.copy()
    c[[0, 2, 3]] = 7  # three mistakes, one shared with b
    d = diversity([a, b, c], a, Y)
    pairs = {(p["a"], p["b"]): p for p in d["pairs"]}
    assert pairs[(0, 1)]["disagreement"] == pytest.approx(0.2)
    assert pairs[(0, 2)]["disagreement"] == pytest.approx(0.3)
    assert pairs[(1, 2)]["disagreement"] == pytest.approx(0.4)  # images 1, 2, 3 differ, and 0 (5 vs 7)
    e_b = (b != Y).astype(float)
    e_c = (c != Y).astype(float)
    assert pairs[(1, 2)]["error_correlation"] == pytest.approx(np.corrcoef(e_b, e_c)[0, 1])
    assert pairs[(0, 1)]["error_correlation"] == 0.0  # a never errs: undefined, counted as unrelated
    assert d["best_member"] == 0 and d["best_member_accuracy"] == 1.0
    assert d["oracle_accuracy"] == 1.0
    json.dumps(d)  # stored with the run as JSON


def test_error_correlation_of_two_flawless_members_is_one():
    none = np.zeros(5, dtype=bool)
    assert error_correlation(none, none) == 1.0


@pytest.mark.parametrize(
    ("members", "fused", "y", "message"),
    [
        ([Y], Y, Y, "at least 2 members; received 1"),
        ([Y, Y[:5]], Y, Y, "must have 10 labels"),
        ([Y, Y], Y.reshape(2, 5), Y, "received shape (2, 5)"),
        ([[], []], [], [], "at least one test image"),
    ],
)
def test_bad_input_says_what_was_expected(members, fused, y, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        diversity(members, fused, y)


@pytest.mark.jax
@pytest.mark.parametrize(("fusion_type", "members"), [("parallel", 2), ("single", 1)])
def test_evaluate_stores_diversity_for_fusions_only(prepared, fusion_type, members):
    from fusion_core.config import make_config
    from fusion_core.evaluate import evaluate
    from fusion_core.train import train

    config = make_config(
        fusion_type,
        num_members=members,
        rule="soft" if members > 1 else "none",
        hidden_units=16,
        epochs=1,
        batch_size=20,
    )
    outcome = train(config, prepared)
    results = evaluate(outcome.model, prepared.x_test, prepared.y_test, members)
    if members == 1:
        assert "diversity" not in results
        return
    d = results["diversity"]
    assert d["fused_accuracy"] == pytest.approx(results["fused_accuracy"])
    assert d["best_member_accuracy"] == pytest.approx(results["best_member_accuracy"])
    assert d["best_member_accuracy"] <= d["oracle_accuracy"] <= 1.0
    assert len(d["pairs"]) == 1 and 0.0 <= d["mean_disagreement"] <= 1.0
    json.dumps(results["diversity"])
