"""Fit a learned fusion head to convergence on the members' held-out outputs, after they train.

During the joint fit a head (learned weights, a feature head, a stacking meta-learner, the
hybrid's meta-network) gets exactly as many gradient steps as the members, far too few at a
lesson's budget: stacking at 1 epoch on 2,000 images fused at chance while its members reached
71-75%. So after the fit, the way scikit-learn's StackingClassifier fits its final estimator:

1. the members are frozen; their outputs on the held-out share of the training set (the images
   they never trained on: probabilities, hidden features for the feature head, plus the image for
   the meta-network) are computed once;
2. the head alone is fitted on those cached arrays with L-BFGS to convergence, with an L2 penalty
   (scikit-learn's C=1: half the squared weights against the summed cross-entropy), so a few
   hundred held-out images do not overfit it. Learned weights start at equal weights (the soft
   vote) and the penalty pulls them back towards it;
3. its held-out accuracy is measured by cross-fitting (each fold predicted by a head fitted on the
   other folds) against the soft vote and the best member on the same images. The head is kept
   only if it beats both by more than the standard error of that paired comparison; otherwise
   the model's fused output becomes the members' soft vote (layers.HeadOrVote), and the run's
   results say so and why.

The time it may take is a share of the members' fit (`TIME_SHARE`). Importing this module is
cheap and never imports Keras (the config page reads `held_out_size` and the constants).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from fusion_core import registry
from fusion_core.registry import FUSED, NUM_CLASSES, member_name

MIN_HELD_OUT = 100  # fewer held-out images than this: the head is not fitted, the soft vote answers
FEW_HELD_OUT = 1000  # below this the config page warns that the head rarely beats the vote
CHECK_FOLDS = 3  # cross-fitting folds for the held-out accuracy that decides head or vote
L2 = 1.0  # scikit-learn's C=1: 0.5 * ||W||^2 added to the summed cross-entropy
MAX_ITER = 200  # L-BFGS iterations per fit (scikit-learn's LogisticRegression: 100, MLP: 200)
TIME_SHARE = 0.1  # the head phase may take this share of the members' fit...
MIN_SECONDS = 0.5  # ...but never less than this (a fit on a few hundred images takes milliseconds)
VOTE_SHARPNESS = 6.0  # stacking's anchor: logits c * sum_k p_k with c = 6 / K (unanimous: p about 0.99)
VOTE = "soft vote"
POOL_SIZE = 60_000  # MNIST's training images, before the validation split


def held_out_size(config: Any) -> int:
    """How many training images a config keeps for its head (0 when its rule has none)."""
    if not registry.fusion_of(config).uses_holdout:
        return 0
    tc = config.training
    pool = round(POOL_SIZE * (1 - tc.validation_fraction))
    return max(1, round(min(tc.train_size, pool) * config.fusion.stacking_holdout))


def held_out_rows(config: Any, num_examples: int) -> np.ndarray:
    """The training rows the members never trained on (the same split `sample_weights` makes)."""
    from fusion_core.train import sample_weights

    weights = sample_weights(config, num_examples)
    if weights is None or not registry.fusion_of(config).uses_holdout:
        return np.arange(0)
    return np.flatnonzero(weights[FUSED] > 0)


# -- the heads as plain functions of a flat parameter vector -----------------------------------------


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _cross_entropy(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.sum(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0))))


class Head:
    """One head's forward pass and gradient in numpy, and how its weights map onto Keras layers."""

    def __init__(self, model: Any, layers: list[Any]):
        self.layers = layers
        self.shapes = [tuple(w.shape) for layer in layers for w in layer.get_weights()]

    def start(self) -> np.ndarray:
        """Where L-BFGS starts (zeros unless a head says otherwise)."""
        return np.zeros(sum(int(np.prod(s)) for s in self.shapes))

    def unpack(self, params: np.ndarray) -> list[np.ndarray]:
        out, at = [], 0
        for shape in self.shapes:
            size = int(np.prod(shape))
            out.append(params[at : at + size].reshape(shape).astype("float32"))
            at += size
        return out

    def predict(self, params: np.ndarray, inputs: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def loss_and_grad(self, params: np.ndarray, inputs: list[np.ndarray], y: np.ndarray):
        raise NotImplementedError

    def assign(self, params: np.ndarray) -> None:
        weights, at = self.unpack(params), 0
        for layer in self.layers:
            count = len(layer.get_weights())
            layer.set_weights(weights[at : at + count])
            at += count


class SoftmaxHead(Head):
    """p = softmax(X W + b), penalised towards `prior` (a vote of the members, see `prior`)."""

    def __init__(self, model: Any, layers: list[Any]):
        super().__init__(model, layers)
        self.anchor = self.prior(model)

    def prior(self, model: Any) -> np.ndarray:
        return super().start()

    def start(self) -> np.ndarray:
        return self.anchor.copy()

    def predict(self, params, inputs):
        w, b = self.unpack(params)
        return _softmax(inputs[0] @ w + b)

    def loss_and_grad(self, params, inputs, y):
        (x,), (w, b) = inputs, self.unpack(params)
        (w0, _) = self.unpack(self.anchor)
        p = _softmax(x @ w + b)
        d = p.copy()
        d[np.arange(len(y)), y] -= 1.0
        loss = _cross_entropy(p, y) + 0.5 * L2 * float(np.sum((w - w0).astype("float64") ** 2))
        grad = [x.T @ d + L2 * (w - w0), d.sum(axis=0)]
        return loss, np.concatenate([g.ravel() for g in grad]).astype("float64")


class StackingHead(SoftmaxHead):
    """Logistic regression on [p_1; ...; p_K], anchored at softmax(c * sum_k p_k): the soft vote's
    decision. With few held-out images the penalty keeps it there; with many it learns more."""

    def prior(self, model: Any) -> np.ndarray:
        kernel_shape = self.shapes[0]
        num_members = kernel_shape[0] // NUM_CLASSES
        kernel = np.tile(np.eye(NUM_CLASSES), (num_members, 1)) * (VOTE_SHARPNESS / num_members)
        return np.concatenate([kernel.ravel(), np.zeros(NUM_CLASSES)])


class FeatureHeadFit(SoftmaxHead):
    """A classifier on the members' last hidden layers, anchored at their own output layers averaged:
    softmax(mean_k (W_k h_k + b_k)), the members' mean logits (a vote of their own)."""

    def prior(self, model: Any) -> np.ndarray:
        outputs = [model.get_layer(member_name(k)).get_weights() for k in range(self.num_members(model))]
        if any(len(w) != 2 or w[0].ndim != 2 for w in outputs):  # not a Dense softmax: no anchor
            return super().prior(model)
        kernel = np.concatenate([w[0] for w in outputs], axis=0) / len(outputs)
        if kernel.shape != self.shapes[0]:
            return super().prior(model)
        bias = np.mean([w[1] for w in outputs], axis=0)
        return np.concatenate([kernel.ravel(), bias]).astype("float64")

    @staticmethod
    def num_members(model: Any) -> int:
        return sum(1 for name in model.output_names if registry.member_index(name) is not None)


class WeightsHead(Head):
    """p = sum_k softmax(a)_k p_k; a starts at 0 (the soft vote) and the penalty pulls it back there."""

    def predict(self, params, inputs):
        (a,) = self.unpack(params)
        return np.einsum("k,nkc->nc", _softmax(a), np.stack(inputs, axis=1))

    def loss_and_grad(self, params, inputs, y):
        (a,) = self.unpack(params)
        w = _softmax(a)
        right = np.stack([p[np.arange(len(y)), y] for p in inputs], axis=1)  # (n, K)
        q = np.clip(right @ w, 1e-12, None)
        loss = float(-np.sum(np.log(q))) + 0.5 * L2 * float(np.sum(a.astype("float64") ** 2))
        g = -(right / q[:, None]).sum(axis=0)  # dL/dw
        return loss, (w * (g - w @ g) + L2 * a).astype("float64")


class MetaHead(Head):
    """p = softmax(relu(X W1 + b1) W2 + b2) on X = [x; p_1; ...; p_K], anchored at the soft vote's
    decision: ten hidden units add up the members' probabilities of one class each, the others start
    small and random. It is refitted from there, not from its joint-fit weights: those have seen
    every held-out image, which would make its cross-fitted accuracy look better than it is."""

    def __init__(self, model: Any, layers: list[Any]):
        super().__init__(model, layers)
        self.anchor = self._anchor()

    def _anchor(self) -> np.ndarray:
        (width, units), _, _, _ = self.shapes
        num_members = (width - registry.INPUT_DIM) // NUM_CLASSES
        rng = np.random.default_rng(len(self.shapes) + width + units)
        w1 = rng.uniform(-1.0, 1.0, (width, units)) * 0.1 * np.sqrt(6.0 / (width + units))
        w2 = np.zeros((units, NUM_CLASSES))
        for c in range(min(units, NUM_CLASSES)):
            w1[:, c] = 0.0
            w1[registry.INPUT_DIM + c :: NUM_CLASSES, c] = 1.0  # sum_k p_k[c]
            w2[c, c] = VOTE_SHARPNESS / max(num_members, 1)
        parts = [w1, np.zeros(units), w2, np.zeros(NUM_CLASSES)]
        return np.concatenate([p.ravel() for p in parts])

    def start(self) -> np.ndarray:
        return self.anchor.copy()

    def predict(self, params, inputs):
        w1, b1, w2, b2 = self.unpack(params)
        return _softmax(np.maximum(inputs[0] @ w1 + b1, 0.0) @ w2 + b2)

    def loss_and_grad(self, params, inputs, y):
        (x,), (w1, b1, w2, b2) = inputs, self.unpack(params)
        a1, _, a2, _ = self.unpack(self.anchor)
        h = np.maximum(x @ w1 + b1, 0.0)
        p = _softmax(h @ w2 + b2)
        d = p.copy()
        d[np.arange(len(y)), y] -= 1.0
        dh = (d @ w2.T) * (h > 0)
        penalty = float(np.sum((w1 - a1).astype("float64") ** 2) + np.sum((w2 - a2).astype("float64") ** 2))
        loss = _cross_entropy(p, y) + 0.5 * L2 * penalty
        grad = [x.T @ dh + L2 * (w1 - a1), dh.sum(axis=0), h.T @ d + L2 * (w2 - a2), d.sum(axis=0)]
        return loss, np.concatenate([g.ravel() for g in grad]).astype("float64")


HEADS: dict[str, type[Head]] = {
    "weighted": WeightsHead,
    "feature": FeatureHeadFit,
    "stacking": StackingHead,
    "meta": MetaHead,
}


def head_layers(model: Any) -> list[Any]:
    """The fusion's own layers with weights, in graph order (the meta-network has two)."""
    return [layer for layer in model.layers if layer.weights and registry.layer_owner(layer.name) is None]


class _OutOfTime(Exception):
    pass


def fit_lbfgs(
    head: Head, inputs: list[np.ndarray], y: np.ndarray, deadline: float
) -> tuple[np.ndarray, int, bool]:
    """(parameters, iterations, in time): L-BFGS from `head.start()` until it converges, MAX_ITER
    or `deadline` (then `in time` is False).

    The deadline is checked at every evaluation, so one slow line search cannot overrun it; the
    last completed iteration's point is kept.
    """
    from scipy.optimize import minimize

    last = {"x": head.start(), "iterations": 0}

    def objective(params):
        if time.perf_counter() > deadline:
            raise _OutOfTime
        return head.loss_and_grad(params, inputs, y)

    def tick(intermediate_result) -> None:
        last["x"], last["iterations"] = intermediate_result.x.copy(), last["iterations"] + 1

    try:
        result = minimize(
            objective, last["x"], jac=True, method="L-BFGS-B", callback=tick, options={"maxiter": MAX_ITER}
        )
        return result.x, last["iterations"], True
    except _OutOfTime:
        return last["x"], last["iterations"], False


# -- the phase -------------------------------------------------------------------------------------


def cached_outputs(model: Any, x: np.ndarray, num_members: int, batch_size: int = 2048):
    """(what the head reads, each member's probabilities) for `x`, members frozen (inference mode)."""
    import keras

    first = head_layers(model)[0]
    cut = first.input if isinstance(first.input, list | tuple) else [first.input]
    probs = [model.get_layer(member_name(k)).output for k in range(num_members)]
    extractor = keras.Model(model.input, [*cut, *probs])
    parts: list[list[np.ndarray]] = [[] for _ in range(len(cut) + num_members)]
    for start in range(0, len(x), batch_size):
        for i, value in enumerate(extractor(x[start : start + batch_size], training=False)):
            parts[i].append(keras.ops.convert_to_numpy(value))
    arrays = [np.concatenate(chunks) for chunks in parts]
    return arrays[: len(cut)], arrays[len(cut) :]


def use_vote(model: Any, flag: bool) -> None:
    """Make the model's fused output the soft vote (True) or the learned head's answer (False)."""
    model.get_layer(FUSED).use_vote = flag


def _paired_gain(head_right: np.ndarray, rival_right: np.ndarray) -> tuple[float, float]:
    """(accuracy gain of the head over a rival, its standard error) on the same images.

    A head is kept only if it beats both the vote and the best member by more than this noise: on
    a few hundred images a difference of a point is often chance, and the vote is the safe answer.
    """
    diff = head_right.astype(float) - rival_right.astype(float)
    return float(diff.mean()), float(diff.std() / np.sqrt(len(diff)))


def _cross_fitted(head: Head, inputs: list[np.ndarray], y: np.ndarray, deadline: float, seed: int):
    """(out-of-fold predictions, seconds of the longest fold fit): each held-out image predicted by
    a head fitted on the other folds."""
    folds = np.random.default_rng(seed).permutation(len(y)) % CHECK_FOLDS
    predicted = np.zeros((len(y), NUM_CLASSES))
    longest = 0.0
    for f in range(CHECK_FOLDS):
        fit, check = folds != f, folds == f
        # the folds and the final fit share the time left equally
        start = time.perf_counter()
        share = start + (deadline - start) / (CHECK_FOLDS + 1 - f)
        params, _, _ = fit_lbfgs(head, [a[fit] for a in inputs], y[fit], share)
        predicted[check] = head.predict(params, [a[check] for a in inputs])
        longest = max(longest, time.perf_counter() - start)
    return predicted, longest


def _fall_back(model: Any, record: dict, reason: str) -> dict:
    use_vote(model, True)
    for layer in head_layers(model):  # learned weights then read as what answers: equal weights
        if type(layer).__name__ == "WeightedAverage":
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    return {**record, "fallback": VOTE, "reason": reason}


def fit_head(
    model: Any,
    config: Any,
    x_train: np.ndarray,
    y_train: np.ndarray,
    *,
    members_seconds: float,
    stopped: bool = False,
) -> dict | None:
    """Fit the head of a learned fusion on the members' held-out outputs, or set it aside.

    Returns what the run's results record under "head" (None for rules without a learned head):
    rule, held_out (images), fitted_steps (L-BFGS iterations of the kept head), seconds, the
    held-out accuracies of the head (cross-fitted), the soft vote and the best member, and
    fallback ("soft vote" or None) with the reason in words.
    """
    entry = registry.fusion_of(config)
    if not entry.learned_head:
        return None
    t0 = time.perf_counter()
    deadline = t0 + max(MIN_SECONDS, TIME_SHARE * members_seconds)
    rows = held_out_rows(config, len(x_train))
    record: dict[str, Any] = {"rule": entry.rule, "held_out": len(rows), "fitted_steps": 0}
    record.update(fallback=None, reason=None, seconds=0.0)
    if stopped:
        return _finish(_fall_back(model, record, "training was stopped before it was fitted"), t0)
    if len(rows) < MIN_HELD_OUT:
        reason = f"only {len(rows)} training images were held out for it; it needs at least {MIN_HELD_OUT}"
        return _finish(_fall_back(model, record, reason), t0)

    num_members = config.fusion.num_members
    inputs, member_probs = cached_outputs(model, x_train[rows], num_members)
    y = np.asarray(y_train[rows])
    head = HEADS[entry.rule](model, head_layers(model))
    predicted, fold_seconds = _cross_fitted(head, inputs, y, deadline, config.training.seed)
    head_right = np.argmax(predicted, axis=1) == y
    vote_right = np.argmax(np.mean(member_probs, axis=0), axis=1) == y
    best_right = max((np.argmax(p, axis=1) == y for p in member_probs), key=np.mean)
    record.update(
        head_accuracy=float(head_right.mean()),
        vote_accuracy=float(vote_right.mean()),
        best_member_accuracy=float(best_right.mean()),
    )
    for name, rival in (("the soft vote", vote_right), ("the best member", best_right)):
        gain, noise = _paired_gain(head_right, rival)
        if gain < noise or gain <= 0:
            reason = (
                f"on the {len(rows)} held-out images it scored {head_right.mean():.1%} against "
                f"{rival.mean():.1%} for {name}, not better by more than the noise of that "
                f"comparison ({noise:.1%})"
            )
            return _finish(_fall_back(model, record, reason), t0)
    # The kept head is fitted on every held-out image, for at least as long as a fold's head was.
    final_deadline = max(deadline, time.perf_counter() + fold_seconds)
    params, iterations, in_time = fit_lbfgs(head, inputs, y, final_deadline)
    if iterations == 0 and not in_time:
        return _finish(_fall_back(model, record, "there was no time left to fit it on all of them"), t0)
    head.assign(params)
    use_vote(model, False)
    record["fitted_steps"] = iterations
    return _finish(record, t0)


def _finish(record: dict, t0: float) -> dict:
    record["seconds"] = round(time.perf_counter() - t0, 3)
    for key in ("head_accuracy", "vote_accuracy", "best_member_accuracy"):
        if key in record:
            record[key] = round(record[key], 4)
    return record
