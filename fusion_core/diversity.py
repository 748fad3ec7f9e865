"""Why a fusion helps or not: how differently its members err on the test set (numpy only).

A vote can only fix an image when some member gets it right, and only when the members that get it
wrong do not all agree. Disagreement, error correlation and the oracle put numbers on that.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np


def _labels(name: str, values: object, n: int | None) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(
            f"{name} must be one label per test image (a 1-D array); received shape {array.shape}."
        )
    if n is not None and len(array) != n:
        raise ValueError(f"{name} must have {n} labels, one per test image; received {len(array)}.")
    return array


def error_correlation(errors_a: np.ndarray, errors_b: np.ndarray) -> float:
    """Pearson correlation of two 0/1 error indicators.

    When one member never errs (or always errs) the correlation is undefined; two constant
    indicators that are equal count as 1.0 (they err alike), otherwise 0.0.
    """
    a = errors_a.astype(float)
    b = errors_b.astype(float)
    if a.std() == 0 or b.std() == 0:
        return 1.0 if np.array_equal(a, b) else 0.0
    return float(np.corrcoef(a, b)[0, 1])


def diversity(member_preds: list, fused_pred: object, y_true: object) -> dict:
    """Pairwise disagreement, error correlation, oracle, best member and fusion accuracy.

    `member_preds` holds one array of predicted labels per member (two or more), `fused_pred` the
    fusion's labels and `y_true` the true labels, all over the same test images.
    """
    if len(member_preds) < 2:
        raise ValueError(f"Diversity needs at least 2 members; received {len(member_preds)}.")
    y = _labels("y_true", y_true, None)
    if len(y) == 0:
        raise ValueError("Diversity needs at least one test image; received 0 labels.")
    preds = [_labels(f"member {k + 1}'s labels", p, len(y)) for k, p in enumerate(member_preds)]
    fused = _labels("the fusion's labels", fused_pred, len(y))
    errors = [p != y for p in preds]
    accuracies = [float(1.0 - e.mean()) for e in errors]
    pairs = []
    for i, j in combinations(range(len(preds)), 2):
        pairs.append(
            {
                "a": i,
                "b": j,
                "disagreement": float(np.mean(preds[i] != preds[j])),
                "error_correlation": error_correlation(errors[i], errors[j]),
            }
        )
    best = int(np.argmax(accuracies))
    return {
        "pairs": pairs,
        "mean_disagreement": float(np.mean([p["disagreement"] for p in pairs])),
        "mean_error_correlation": float(np.mean([p["error_correlation"] for p in pairs])),
        "oracle_accuracy": float(np.mean(~np.logical_and.reduce(errors))),
        "member_accuracies": accuracies,
        "best_member": best,
        "best_member_accuracy": accuracies[best],
        "fused_accuracy": float(np.mean(fused == y)),
    }
