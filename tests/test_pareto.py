import math

import pytest

from fusion_core.pareto import pareto_front


def brute_force(costs, accs):
    front = []
    for i, (ci, ai) in enumerate(zip(costs, accs, strict=True)):
        dominated = any(
            cj <= ci and aj >= ai and (cj < ci or aj > ai)
            for j, (cj, aj) in enumerate(zip(costs, accs, strict=True))
            if j != i
        )
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: (costs[i], i))


def test_empty():
    assert pareto_front([], []) == []


def test_single_point():
    assert pareto_front([3.0], [0.5]) == [0]


def test_hand_example_sorted_by_cost():
    costs = [10, 1, 5, 7, 3]
    accs = [0.99, 0.80, 0.95, 0.90, 0.85]
    # 3 (cost 7, 0.90) is dominated by 2 (cost 5, 0.95); the rest trade cost for accuracy.
    assert pareto_front(costs, accs) == [1, 4, 2, 0]


def test_equal_cost_keeps_only_the_more_accurate():
    assert pareto_front([2, 2, 1], [0.9, 0.8, 0.5]) == [2, 0]


def test_equal_accuracy_keeps_only_the_cheaper():
    assert pareto_front([1, 2, 3], [0.9, 0.9, 0.95]) == [0, 2]


def test_exact_duplicates_are_both_kept():
    assert pareto_front([1, 1, 2], [0.9, 0.9, 0.8]) == [0, 1]
    assert pareto_front([4, 4], [0.7, 0.7]) == [0, 1]


def test_one_point_dominates_all():
    assert pareto_front([5, 1, 3, 2], [0.5, 0.99, 0.7, 0.6]) == [1]


def test_accepts_tuples_and_ints():
    assert pareto_front((1, 2), (1, 2)) == [0, 1]


def test_nan_points_are_never_on_the_front():
    assert pareto_front([1, math.nan, 3], [0.5, 0.9, math.nan]) == [0]


def test_length_mismatch():
    with pytest.raises(ValueError, match="same length"):
        pareto_front([1, 2], [0.5])


def test_matches_brute_force_on_random_data_with_ties():
    import random

    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(0, 12)
        costs = [rng.randint(0, 5) for _ in range(n)]
        accs = [rng.randint(0, 5) / 5 for _ in range(n)]
        assert pareto_front(costs, accs) == brute_force(costs, accs)
