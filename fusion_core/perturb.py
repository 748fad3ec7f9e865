"""Robustness experiments: damage test images in controlled ways and see what the model does.

Every function is pure: it takes images `x` as floats in [0, 1], shaped (n, 28, 28) or flat
(n, 784) (a single (28, 28) image or any (n, H, W) batch works too), and a strength; it returns a
NEW float32 array of the same shape, clipped to [0, 1]. Strength 0 returns an exact copy. The
input is never modified. Random perturbations take a `seed`: the same seed, batch and strength
give the same result. uint8 input (0..255) is scaled by 1/255 first.

`PERTURBATIONS` describes each kind for the UI (label, unit, slider range, default sweep) and
`apply(kind, x, strength, seed)` dispatches by name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

MNIST_SIDE = 28
_FLAT = MNIST_SIDE * MNIST_SIDE


def _as_batch(x: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """A float32 (n, H, W) copy of `x` and the shape to give the result back in."""
    a = np.asarray(x)
    shape = a.shape
    if a.ndim == 3:
        batch = a
    elif a.ndim == 2 and shape[1] == _FLAT:
        batch = a.reshape(shape[0], MNIST_SIDE, MNIST_SIDE)
    elif a.ndim == 2:
        batch = a[None]
    elif a.ndim == 1 and shape[0] == _FLAT:
        batch = a.reshape(1, MNIST_SIDE, MNIST_SIDE)
    else:
        raise ValueError(
            f"images must be shaped (n, 28, 28), (n, 784), (n, H, W) or (H, W); got shape {shape}"
        )
    if a.dtype == np.uint8:
        out = batch.astype(np.float32) / np.float32(255.0)
    elif a.dtype == np.bool_ or np.issubdtype(a.dtype, np.floating):
        out = batch.astype(np.float32)  # astype always copies
    else:
        raise ValueError(f"images must be floats in [0, 1] (or uint8 0..255); got dtype {a.dtype}")
    return out, shape


def _finish(batch: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return np.clip(batch, 0.0, 1.0, out=batch).reshape(shape)


def _strength(name: str, value: float, low: float | None = 0.0, high: float | None = None) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number; got {value!r}") from None
    if not math.isfinite(v) or (low is not None and v < low) or (high is not None and v > high):
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name} must be a finite number in [{lo}, {hi}]; got {value!r}")
    return v


def gaussian_noise(x: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """Add independent N(0, sigma^2) noise to every pixel, then clip to [0, 1]."""
    sigma = _strength("sigma", sigma)
    batch, shape = _as_batch(x)
    if sigma == 0:
        return batch.reshape(shape)
    rng = np.random.default_rng(seed)
    batch += rng.normal(0.0, sigma, size=batch.shape).astype(np.float32)
    return _finish(batch, shape)


def rotate(x: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate each image by `degrees` about its centre; positive is counter-clockwise as displayed.

    scipy.ndimage.rotate with reshape=False (the frame stays 28x28, corners are cut), bilinear
    interpolation (order=1) and black (0) fill for the area rotated in.
    """
    degrees = _strength("degrees", degrees, low=None)
    batch, shape = _as_batch(x)
    if degrees == 0:
        return batch.reshape(shape)
    out = ndimage.rotate(batch, degrees, axes=(1, 2), reshape=False, order=1, mode="constant", cval=0.0)
    return _finish(out.astype(np.float32, copy=False), shape)


def shift(x: np.ndarray, pixels: float) -> np.ndarray:
    """Move each image `pixels` to the RIGHT and DOWN (negative: left and up); vacated pixels are 0.

    Whole pixels only: a fractional value is rounded to the nearest integer. What moves past the
    edge is lost (no wrap-around).
    """
    p = round(_strength("pixels", pixels, low=None))
    batch, shape = _as_batch(x)
    if p == 0:
        return batch.reshape(shape)
    n, h, w = batch.shape
    out = np.zeros_like(batch)
    if abs(p) < h and abs(p) < w:
        if p > 0:
            out[:, p:, p:] = batch[:, : h - p, : w - p]
        else:
            q = -p
            out[:, : h - q, : w - q] = batch[:, q:, q:]
    return _finish(out, shape)


def occlude(x: np.ndarray, size: float, seed: int = 0) -> np.ndarray:
    """Black out a `size` x `size` square in each image, at a random position inside the frame.

    Each image gets its own position, drawn uniformly among those that keep the whole square in
    the frame; the positions come from `seed`, so the same seed and batch give the same squares.
    `size` is rounded to whole pixels; a size of at least the frame blacks out the whole image.
    """
    s = round(_strength("size", size))
    batch, shape = _as_batch(x)
    if s == 0:
        return batch.reshape(shape)
    n, h, w = batch.shape
    sh, sw = min(s, h), min(s, w)
    rng = np.random.default_rng(seed)
    tops = rng.integers(0, h - sh + 1, size=n)
    lefts = rng.integers(0, w - sw + 1, size=n)
    r, c = np.arange(h), np.arange(w)
    in_rows = (r >= tops[:, None]) & (r < tops[:, None] + sh)  # (n, h)
    in_cols = (c >= lefts[:, None]) & (c < lefts[:, None] + sw)  # (n, w)
    batch[in_rows[:, :, None] & in_cols[:, None, :]] = 0.0
    return _finish(batch, shape)


def salt_and_pepper(x: np.ndarray, amount: float, seed: int = 0) -> np.ndarray:
    """Set each pixel, with probability `amount`, to 0 (pepper) or 1 (salt) with equal chance.

    So on average a fraction `amount` of the pixels is hit (in [0, 1]); a hit pixel that already
    had that value does not visibly change.
    """
    amount = _strength("amount", amount, high=1.0)
    batch, shape = _as_batch(x)
    if amount == 0:
        return batch.reshape(shape)
    rng = np.random.default_rng(seed)
    hit = rng.random(batch.shape) < amount
    salt = rng.random(batch.shape) < 0.5
    batch[hit] = salt[hit].astype(np.float32)
    return _finish(batch, shape)


@dataclass(frozen=True)
class Perturbation:
    """One kind of perturbation and how the UI should offer it."""

    name: str  # key in PERTURBATIONS
    label: str  # "Gaussian noise"
    unit: str  # what the strength measures, for slider and axis labels: "sigma"
    min: float  # slider range
    max: float
    step: float
    default: float  # slider start value
    sweep: tuple[float, ...]  # strengths for a robustness curve, starting at 0 (clean)
    fn: Callable[..., np.ndarray]
    random: bool  # whether `seed` changes the result
    help: str

    def apply(self, x: np.ndarray, strength: float, seed: int = 0) -> np.ndarray:
        if self.random:
            return self.fn(x, strength, seed=seed)
        return self.fn(x, strength)


PERTURBATIONS: dict[str, Perturbation] = {
    p.name: p
    for p in (
        Perturbation(
            "gaussian_noise",
            "Gaussian noise",
            "sigma",
            0.0,
            1.0,
            0.05,
            0.2,
            (0.0, 0.1, 0.2, 0.3, 0.4, 0.5),
            gaussian_noise,
            True,
            "Adds random noise with standard deviation sigma to every pixel.",
        ),
        Perturbation(
            "rotate",
            "Rotation",
            "degrees",
            -90.0,
            90.0,
            5.0,
            30.0,
            (0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0),
            rotate,
            False,
            "Rotates the digit about the image centre; positive is counter-clockwise.",
        ),
        Perturbation(
            "shift",
            "Shift",
            "pixels",
            -10.0,
            10.0,
            1.0,
            3.0,
            (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0),
            shift,
            False,
            "Moves the digit right and down (negative: left and up); MNIST digits are centred.",
        ),
        Perturbation(
            "occlude",
            "Occlusion",
            "square side (pixels)",
            0.0,
            28.0,
            1.0,
            8.0,
            (0.0, 4.0, 8.0, 12.0, 16.0),
            occlude,
            True,
            "Blacks out a square of this side at a random place in each image.",
        ),
        Perturbation(
            "salt_and_pepper",
            "Salt & pepper",
            "fraction of pixels",
            0.0,
            0.5,
            0.01,
            0.1,
            (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3),
            salt_and_pepper,
            True,
            "Sets this fraction of the pixels to pure black or pure white at random.",
        ),
    )
}


def apply(kind: str, x: np.ndarray, strength: float, seed: int = 0) -> np.ndarray:
    """Apply the perturbation named `kind` (a key of PERTURBATIONS) with this strength."""
    p = PERTURBATIONS.get(kind) if isinstance(kind, str) else None
    if p is None:
        raise ValueError(f"unknown perturbation {kind!r}; choose one of {', '.join(PERTURBATIONS)}")
    return p.apply(x, strength, seed=seed)
