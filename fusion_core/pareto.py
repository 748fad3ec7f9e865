"""The Pareto front of runs: which runs are worth their cost (parameters, training time, ...).

Lower cost and higher accuracy are better. A run is dominated when another run is no more costly
and no less accurate, and strictly better in at least one of the two; the front is every run that
is not dominated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def pareto_front(costs: Sequence[float], accuracies: Sequence[float]) -> list[int]:
    """Indices of the non-dominated points, sorted by cost (then by index).

    Exact duplicates do not dominate each other, so all copies of a front point are returned.
    Points whose cost or accuracy is NaN are never on the front. Empty input gives [].
    Raises ValueError when the two sequences differ in length.
    """
    costs, accuracies = list(costs), list(accuracies)
    if len(costs) != len(accuracies):
        raise ValueError(
            f"costs and accuracies must have the same length; got {len(costs)} and {len(accuracies)}"
        )
    points = [
        (float(c), float(a), i)
        for i, (c, a) in enumerate(zip(costs, accuracies, strict=True))
        if not (math.isnan(float(c)) or math.isnan(float(a)))
    ]
    # Cheapest first; at equal cost the most accurate first.
    points.sort(key=lambda p: (p[0], -p[1], p[2]))

    front: list[int] = []
    best_cheaper: float | None = None  # best accuracy among strictly cheaper points
    start = 0
    while start < len(points):
        cost = points[start][0]
        end = start
        while end < len(points) and points[end][0] == cost:
            end += 1
        top = points[start][1]  # best accuracy at this cost; lower ones at this cost are dominated
        if best_cheaper is None or top > best_cheaper:
            front.extend(i for c, a, i in points[start:end] if a == top)
            best_cheaper = top
        start = end
    return front
