import numpy as np
import pytest
from scipy import ndimage

from fusion_core import perturb
from fusion_core.perturb import (
    PERTURBATIONS,
    apply,
    gaussian_noise,
    occlude,
    rotate,
    salt_and_pepper,
    shift,
)


def batch(n=4, seed=0):
    return np.random.default_rng(seed).random((n, 28, 28)).astype(np.float32)


def hand_made():
    """An asymmetric 28x28 'L' shape with grey levels."""
    a = np.zeros((28, 28), np.float32)
    a[5:22, 8:12] = 1.0
    a[18:22, 8:20] = 0.6
    a[6, 15] = 0.3
    return a


ALL = sorted(PERTURBATIONS)


# ---- shared contract -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL)
def test_strength_zero_is_an_exact_copy(kind):
    x = batch()
    y = apply(kind, x, 0)
    assert y is not x and not np.shares_memory(x, y)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("kind", ALL)
def test_input_is_never_modified(kind):
    x = batch()
    before = x.copy()
    y = apply(kind, x, PERTURBATIONS[kind].default, seed=1)
    np.testing.assert_array_equal(x, before)
    assert not np.shares_memory(x, y)


@pytest.mark.parametrize("kind", ALL)
def test_output_is_float32_in_unit_range(kind):
    x = batch()
    y = apply(kind, x, PERTURBATIONS[kind].sweep[-1], seed=3)
    assert y.shape == x.shape and y.dtype == np.float32
    assert y.min() >= 0.0 and y.max() <= 1.0


@pytest.mark.parametrize("kind", ALL)
def test_flat_784_round_trip(kind):
    x = batch(5)
    flat = x.reshape(5, 784)
    strength = PERTURBATIONS[kind].default
    y_flat = apply(kind, flat, strength, seed=2)
    y = apply(kind, x, strength, seed=2)
    assert y_flat.shape == (5, 784)
    np.testing.assert_array_equal(y_flat.reshape(5, 28, 28), y)


@pytest.mark.parametrize("kind", ALL)
def test_single_image_keeps_its_shape(kind):
    x = hand_made()
    y = apply(kind, x, PERTURBATIONS[kind].default, seed=0)
    assert y.shape == (28, 28)


@pytest.mark.parametrize("kind", ALL)
def test_registry_entries_are_consistent(kind):
    p = PERTURBATIONS[kind]
    assert p.name == kind and p.label and p.unit and p.help
    assert p.min <= p.default <= p.max and p.step > 0
    assert p.sweep[0] == 0 and list(p.sweep) == sorted(p.sweep)
    assert all(p.min <= s <= p.max for s in p.sweep)
    assert p.fn is getattr(perturb, kind)


def test_registry_has_the_five_kinds_with_their_labels():
    assert {k: p.label for k, p in PERTURBATIONS.items()} == {
        "gaussian_noise": "Gaussian noise",
        "rotate": "Rotation",
        "shift": "Shift",
        "occlude": "Occlusion",
        "salt_and_pepper": "Salt & pepper",
    }
    assert PERTURBATIONS["gaussian_noise"].unit == "sigma"
    assert PERTURBATIONS["gaussian_noise"].sweep == (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
    assert PERTURBATIONS["rotate"].sweep[-1] == 60
    assert PERTURBATIONS["shift"].sweep[-1] == 6
    assert PERTURBATIONS["occlude"].sweep[-1] == 16
    assert PERTURBATIONS["salt_and_pepper"].sweep[-1] == pytest.approx(0.3)


def test_apply_unknown_name():
    with pytest.raises(ValueError, match=r"unknown perturbation 'blur'; choose one of gaussian_noise, "):
        apply("blur", batch(), 1)


def test_apply_dispatches_with_seed():
    x = batch()
    np.testing.assert_array_equal(apply("gaussian_noise", x, 0.2, seed=7), gaussian_noise(x, 0.2, seed=7))
    np.testing.assert_array_equal(apply("rotate", x, 15, seed=7), rotate(x, 15))


@pytest.mark.parametrize(
    "fn, bad",
    [
        (gaussian_noise, -0.1),
        (occlude, -1),
        (salt_and_pepper, -0.1),
        (salt_and_pepper, 1.5),
        (rotate, float("nan")),
        (shift, float("inf")),
    ],
)
def test_bad_strengths(fn, bad):
    with pytest.raises(ValueError, match="must be a finite number"):
        fn(batch(), bad)


def test_bad_shape():
    with pytest.raises(ValueError, match="shaped"):
        rotate(np.zeros((2, 3, 28, 28), np.float32), 10)


def test_uint8_is_scaled():
    x = (batch() * 255).astype(np.uint8)
    np.testing.assert_allclose(shift(x, 0), x / 255.0, atol=1e-7)


# ---- gaussian noise --------------------------------------------------------------------------


def test_noise_mean_is_zero_on_grey():
    x = np.full((50, 28, 28), 0.5, np.float32)
    y = gaussian_noise(x, 0.1, seed=0)
    assert abs(float((y - x).mean())) < 0.002
    assert float((y - x).std()) == pytest.approx(0.1, rel=0.02)


def test_noise_is_reproducible_by_seed():
    x = batch()
    np.testing.assert_array_equal(gaussian_noise(x, 0.3, seed=5), gaussian_noise(x, 0.3, seed=5))
    assert not np.array_equal(gaussian_noise(x, 0.3, seed=5), gaussian_noise(x, 0.3, seed=6))


# ---- rotation --------------------------------------------------------------------------------


@pytest.mark.parametrize("degrees", [15, -40, 90, 33.3])
def test_rotation_matches_scipy(degrees):
    a = hand_made()
    expected = np.clip(ndimage.rotate(a, degrees, reshape=False, order=1, mode="constant", cval=0.0), 0, 1)
    x = np.stack([a, a[::-1]])
    y = rotate(x, degrees)
    np.testing.assert_allclose(y[0], expected, atol=1e-6)
    expected_flipped = ndimage.rotate(a[::-1], degrees, reshape=False, order=1, mode="constant", cval=0.0)
    np.testing.assert_allclose(y[1], np.clip(expected_flipped, 0, 1), atol=1e-6)


def test_rotation_direction_is_counter_clockwise():
    a = np.zeros((28, 28), np.float32)
    a[2:5, 13:15] = 1.0  # top middle
    y = rotate(a, 90)
    rows, cols = np.nonzero(y > 0.5)
    assert cols.max() < 7 and 10 <= rows.mean() <= 17  # now at the left middle


# ---- shift -----------------------------------------------------------------------------------


def rolled(a, p):
    """Reference: np.roll right and down by p, then zero the wrapped rows and columns."""
    r = np.roll(a, (p, p), axis=(-2, -1))
    if p > 0:
        r[..., :p, :] = 0
        r[..., :, :p] = 0
    elif p < 0:
        r[..., p:, :] = 0
        r[..., :, p:] = 0
    return r


@pytest.mark.parametrize("p", [1, 3, 6, -2, -5, 27])
def test_shift_matches_roll_with_zero_fill(p):
    x = np.stack([hand_made(), batch(1)[0]])
    np.testing.assert_array_equal(shift(x, p), rolled(x, p))


def test_shift_direction_is_right_and_down():
    a = np.zeros((28, 28), np.float32)
    a[10, 10] = 1.0
    y = shift(a, 3)
    assert y[13, 13] == 1.0 and y.sum() == 1.0


def test_shift_rounds_fractions_and_clears_at_frame_size():
    x = batch()
    np.testing.assert_array_equal(shift(x, 2.4), shift(x, 2))
    assert not shift(x, 28).any()
    assert not shift(x, -40).any()


# ---- occlusion -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 5, 16, 28])
def test_occlusion_zeroes_exactly_one_square(size):
    x = np.ones((20, 28, 28), np.float32)
    y = occlude(x, size, seed=3)
    for img in y:
        zero = img == 0
        assert zero.sum() == size * size
        rows, cols = np.nonzero(zero)
        assert rows.max() - rows.min() + 1 == size and cols.max() - cols.min() + 1 == size
        assert rows.min() >= 0 and rows.max() < 28 and cols.min() >= 0 and cols.max() < 28


def test_occlusion_larger_than_frame_blacks_out_everything():
    assert not occlude(np.ones((2, 28, 28), np.float32), 40).any()


def test_occlusion_is_reproducible_and_varies_per_image():
    x = np.ones((30, 28, 28), np.float32)
    a, b = occlude(x, 6, seed=11), occlude(x, 6, seed=11)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, occlude(x, 6, seed=12))
    positions = {tuple(np.argwhere(img == 0)[0]) for img in a}
    assert len(positions) > 1


# ---- salt and pepper -------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [0.05, 0.2, 0.3])
def test_salt_and_pepper_hits_about_amount(amount):
    x = np.full((40, 28, 28), 0.5, np.float32)
    y = salt_and_pepper(x, amount, seed=0)
    changed = y != 0.5
    assert changed.mean() == pytest.approx(amount, abs=0.01)
    assert set(np.unique(y[changed]).tolist()) == {0.0, 1.0}
    assert (y[changed] == 1.0).mean() == pytest.approx(0.5, abs=0.05)


def test_salt_and_pepper_is_reproducible():
    x = batch()
    np.testing.assert_array_equal(salt_and_pepper(x, 0.1, seed=4), salt_and_pepper(x, 0.1, seed=4))


def test_salt_and_pepper_full_amount():
    y = salt_and_pepper(np.full((3, 28, 28), 0.5, np.float32), 1.0, seed=0)
    assert set(np.unique(y).tolist()) == {0.0, 1.0}
