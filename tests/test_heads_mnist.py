"""The convergence guarantee on the real MNIST, at the smallest budget of the grid.

Every learned fusion (stacking, hybrid meta-network, feature head, learned weights), 3 members,
1 epoch on 1,000 images: the fused test accuracy is at least the best member's minus 1 point,
whether the fitted head is kept or set aside for the soft vote. The larger points are in
bench/bench_heads.py.
"""

from __future__ import annotations

import pytest

from fusion_core.config import make_config
from fusion_core.data import load_mnist, prepare_data
from fusion_core.evaluate import evaluate
from fusion_core.registry import FUSIONS
from fusion_core.train import train

pytestmark = pytest.mark.mnist

LEARNED = [f for f in FUSIONS if f.learned_head]
TOLERANCE = 0.01  # one point of test accuracy


@pytest.fixture(scope="module")
def small_mnist():
    return prepare_data(load_mnist(allow_download=False), 1000, 0.1, 0)


@pytest.mark.parametrize("fusion", LEARNED, ids=lambda f: f.rule)
def test_a_learned_fusion_is_never_more_than_a_point_below_its_best_member(fusion, small_mnist):
    config = make_config(fusion.type, 3, fusion.rule, epochs=1, train_size=1000)
    outcome = train(config, small_mnist)
    results = evaluate(outcome.model, small_mnist.x_test, small_mnist.y_test, 3)
    head = outcome.head
    assert head["held_out"] == 200 and (head["fallback"] is None or head["reason"]), head
    assert results["fused_accuracy"] >= results["best_member_accuracy"] - TOLERANCE, (results, head)
