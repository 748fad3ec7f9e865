import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from fusion_core.preprocess import CENTER, load_image_bytes, to_mnist


def canvas(top, left, height, width, *, transparent=False):
    """A 280x280 RGBA canvas like streamlit-drawable-canvas returns, with a black bar painted on.

    White opaque background, or (transparent=True) a bare drawing layer: RGBA 0 everywhere but the
    strokes.
    """
    img = np.zeros((280, 280, 4), np.uint8) if transparent else np.full((280, 280, 4), 255, np.uint8)
    img[top : top + height, left : left + width] = (0, 0, 0, 255)
    return img


def ink_bbox(out, level=0.05):
    rows = np.flatnonzero((out > level).any(axis=1))
    cols = np.flatnonzero((out > level).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def seven(top, left, scale=1):
    """A grayscale black-on-white '7': a top bar and a slanted stem, so its mass is off-centre."""
    g = np.full((280, 280), 255, np.uint8)
    h, w = 150 * scale, 100 * scale
    g[top : top + 20, left : left + w] = 0
    for r in range(20, h):
        c = left + w - 20 - (r - 20) * (w - 40) // (h - 20)
        g[top + r, c : c + 18] = 0
    return g


POSITIONS = [(0, 0), (0, 240), (240, 0), (100, 120), (37, 201), (230, 230)]


@pytest.mark.parametrize("top, left", POSITIONS)
def test_bar_anywhere_comes_out_centred_and_20_px_long(top, left):
    out = to_mnist(canvas(min(top, 80), left, 200, 40))  # a thick vertical bar
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert out.max() == pytest.approx(1.0, abs=1e-6)
    h, w = ink_bbox(out)
    assert 20 <= h <= 21  # 20 px, plus at most one for a sub-pixel centring shift
    assert 4 <= w <= 5  # aspect ratio kept: 40/200 of 20 px
    com = ndimage.center_of_mass(out)
    assert abs(com[0] - CENTER[0]) < 0.5 and abs(com[1] - CENTER[1]) < 0.5


@pytest.mark.parametrize("top, left", POSITIONS)
def test_horizontal_bar_in_any_corner(top, left):
    out = to_mnist(canvas(top, min(left, 100), 30, 180))
    h, w = ink_bbox(out)
    assert 20 <= w <= 21 and 3 <= h <= 5
    com = ndimage.center_of_mass(out)
    assert np.allclose(com, CENTER, atol=0.5)


@pytest.mark.parametrize("top, left", [(0, 0), (120, 170), (60, 30)])
def test_off_centre_mass_is_moved_to_the_centre(top, left):
    g = seven(top, left)
    out = to_mnist(g)
    com = ndimage.center_of_mass(out)
    assert np.allclose(com, CENTER, atol=0.5)
    assert max(ink_bbox(out)) <= 21
    # The mass sits high in a '7', so the digit is moved down from the centred 20x20 box.
    rows = np.flatnonzero((out > 0.05).any(axis=1))
    assert rows[0] > 4


def test_white_on_black_background_is_ink_white_on_black():
    out = to_mnist(canvas(50, 50, 150, 60))
    assert out[0, 0] == 0.0 and out[14, 14] > 0.9  # background 0, ink 1: like MNIST


def test_transparent_drawing_layer_equals_white_canvas():
    a = to_mnist(canvas(30, 60, 180, 50))
    b = to_mnist(canvas(30, 60, 180, 50, transparent=True))
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_rgb_and_gray_equal_rgba():
    rgba = canvas(30, 60, 180, 50)
    a = to_mnist(rgba)
    np.testing.assert_allclose(to_mnist(rgba[:, :, :3]), a, atol=1e-6)
    np.testing.assert_allclose(to_mnist(rgba[:, :, 0]), a, atol=1e-6)
    np.testing.assert_allclose(to_mnist(rgba[:, :, :1]), a, atol=1e-6)
    np.testing.assert_allclose(to_mnist(rgba[:, :, 0].astype(np.float32) / 255), a, atol=1e-6)


def test_white_on_black_upload_equals_black_on_white():
    g = seven(40, 60)
    black_on_white = to_mnist(g)
    white_on_black = to_mnist(255 - g)
    np.testing.assert_allclose(white_on_black, black_on_white, atol=1e-5)
    np.testing.assert_allclose(to_mnist(255 - g, background="dark"), black_on_white, atol=1e-5)
    np.testing.assert_allclose(to_mnist(g, background="light"), black_on_white, atol=1e-5)


def test_grey_paper_and_dark_grey_ink_still_saturate():
    g = seven(40, 60)
    photo = np.where(g == 0, 60, 200).astype(np.uint8)  # grey paper, dark grey pen
    out = to_mnist(photo)
    np.testing.assert_allclose(out, to_mnist(g), atol=1e-5)


def test_mnist_like_input_passes_through_nearly_unchanged():
    # A digit that is already MNIST-shaped: 20 px tall, white on black, in a 28x28 frame.
    a = np.zeros((28, 28), np.float32)
    a[4:24, 12:16] = 1.0
    out = to_mnist(a)
    assert ink_bbox(out)[0] in (20, 21)
    assert np.allclose(ndimage.center_of_mass(out), CENTER, atol=0.5)


def test_empty_canvas_is_none():
    assert to_mnist(np.full((280, 280, 4), 255, np.uint8)) is None
    assert to_mnist(np.zeros((280, 280, 4), np.uint8)) is None  # bare transparent layer
    assert to_mnist(np.zeros((28, 28), np.float32)) is None  # black, nothing drawn


def test_faint_noise_is_ignored():
    img = np.full((280, 280, 4), 255, np.uint8)
    rng = np.random.default_rng(0)
    img[..., :3] -= rng.integers(0, 10, size=(280, 280, 1), dtype=np.uint8)  # faint speckle
    assert to_mnist(img) is None
    img[100:200, 100:130, :3] = 0
    out = to_mnist(img)
    assert ink_bbox(out)[0] in (20, 21)  # the speckle did not widen the crop


def test_tiny_digit_is_enlarged():
    g = np.full((100, 100), 255, np.uint8)
    g[45:50, 48:50] = 0  # 5 x 2 pixels
    out = to_mnist(g)
    h, w = ink_bbox(out)
    assert 20 <= h <= 22 and w <= 10


@pytest.mark.parametrize(
    "bad",
    [np.zeros((4, 4, 2), np.uint8), np.zeros((2, 4, 4, 3), np.uint8), np.zeros((0, 5), np.uint8)],
)
def test_bad_shapes(bad):
    with pytest.raises(ValueError, match="image"):
        to_mnist(bad)


def test_bad_background():
    with pytest.raises(ValueError, match="background"):
        to_mnist(canvas(0, 0, 10, 10), background="grey")


def test_input_is_not_modified():
    img = canvas(20, 20, 100, 30)
    before = img.copy()
    to_mnist(img)
    np.testing.assert_array_equal(img, before)


# ---- load_image_bytes ------------------------------------------------------------------------


def png_bytes(array, mode=None):
    buf = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("shape", [(30, 40), (30, 40, 3), (30, 40, 4)])
def test_png_round_trip(shape):
    a = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    b = load_image_bytes(png_bytes(a))
    assert b.dtype == np.uint8
    np.testing.assert_array_equal(b, a)


def test_jpeg_decodes_to_rgb():
    buf = io.BytesIO()
    Image.fromarray(np.full((20, 30, 3), 128, np.uint8)).save(buf, format="JPEG")
    b = load_image_bytes(buf.getvalue())
    assert b.shape == (20, 30, 3) and abs(int(b.mean()) - 128) <= 2


def test_palette_with_transparency_and_16_bit_are_converted():
    p = Image.new("P", (8, 8), 0)
    p.info["transparency"] = 0
    buf = io.BytesIO()
    p.save(buf, format="PNG", transparency=0)
    assert load_image_bytes(buf.getvalue()).shape == (8, 8, 4)
    deep = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000).astype(np.uint16)
    b = load_image_bytes(png_bytes(deep))
    assert b.dtype == np.uint8 and b.shape == (8, 8) and b.max() > 200


def test_uploaded_drawing_goes_through_to_mnist():
    g = seven(40, 60)
    np.testing.assert_allclose(to_mnist(load_image_bytes(png_bytes(255 - g))), to_mnist(g), atol=1e-5)


def truncated_png():
    data = png_bytes(np.random.default_rng(0).integers(0, 256, size=(64, 64), dtype=np.uint8))
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, truncated_png()],
    ids=["empty", "text", "bad-png-header", "truncated-png"],
)
def test_garbage_bytes_raise_a_clear_error(data):
    with pytest.raises(ValueError, match=r"^could not read this file as an image: .+; upload a PNG or JPEG$"):
        load_image_bytes(data)
