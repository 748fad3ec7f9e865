import io
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from fusion_core.preprocess import CENTER, MAX_UPLOAD_PIXELS, WORKING_SIDE, load_image_bytes, to_mnist


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


# ---- bounded cost of an upload -------------------------------------------------------------------


def zlib_png(width: int, height: int, *, rgba: bool = False, ink: bool = True) -> bytes:
    """A huge, mostly blank PNG made row by row with zlib: a few hundred KB for 10000x10000.

    White paper (or transparent, for RGBA) with a black square in the middle when `ink`.
    """
    channels = 4 if rgba else 1
    blank = b"\x00" + (b"\x00" * (width * 4) if rgba else b"\xff" * width)
    lo, hi = width // 3, 2 * width // 3
    pixel = b"\x00\x00\x00\xff" if rgba else b"\x00"
    inked = blank[: 1 + lo * channels] + pixel * (hi - lo) + blank[1 + hi * channels :]
    squeeze = zlib.compressobj(9)
    body = [
        squeeze.compress(inked if ink and height // 3 <= r < 2 * height // 3 else blank)
        for r in range(height)
    ]
    body.append(squeeze.flush())

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 6 if rgba else 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(body)) + chunk(b"IEND", b"")
    )


DECODE_SCRIPT = """
import resource, sys
from fusion_core.preprocess import load_image_bytes
data = open(sys.argv[1], "rb").read()
try:
    shape = load_image_bytes(data).shape
    print("decoded", shape)
except ValueError as exc:
    print("refused", exc)
# Peak resident memory of this process, in KB on Linux.
print("peak_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def decode_in_subprocess(tmp_path, data: bytes) -> tuple[str, int, int]:
    """(the script's first line, its peak RSS in MB, the peak of a bare import in MB)."""
    path = tmp_path / "upload.png"
    path.write_bytes(data)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run(
        [sys.executable, "-c", DECODE_SCRIPT, str(path)], capture_output=True, text=True, env=env, check=True
    ).stdout.splitlines()
    baseline = subprocess.run(
        [sys.executable, "-c", DECODE_SCRIPT.replace("data = open", "data = b''; open")] + [str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.splitlines()
    peak = int(out[-1].split()[1]) // 1024
    return out[0], peak, int(baseline[-1].split()[1]) // 1024


@pytest.mark.parametrize(
    "width, height, rgba", [(10_000, 10_000, False), (13_000, 13_000, True)], ids=["10000-gray", "13000-rgba"]
)
def test_huge_png_is_refused_from_its_header_without_decoding(tmp_path, width, height, rgba):
    data = zlib_png(width, height, rgba=rgba)
    assert len(data) < 2_000_000  # a small file that would decode to 100 MB .. 676 MB
    first, peak_mb, baseline_mb = decode_in_subprocess(tmp_path, data)
    assert first.startswith(f"refused this image is too large: {width:,} x {height:,} pixels")
    assert "crop or shrink the picture" in first
    # Only the file itself (under 2 MB) and its copies are held; before the cap this took 1.9 to 5.2 GB.
    assert peak_mb - baseline_mb < 40, (peak_mb, baseline_mb)


def test_largest_allowed_png_is_decoded_shrunk_with_bounded_memory(tmp_path):
    side = int(MAX_UPLOAD_PIXELS**0.5)  # 2896 x 2896: just under the cap
    first, peak_mb, baseline_mb = decode_in_subprocess(tmp_path, zlib_png(side, side, rgba=True))
    assert first == f"decoded ({WORKING_SIDE}, {WORKING_SIDE}, 4)"
    # 8.4 megapixels RGBA is 34 MB decoded, 4 MB shrunk; measured 83 MB in all with the decoder buffers.
    assert peak_mb - baseline_mb < 120, (peak_mb, baseline_mb)  # measured: 83 MB


def test_large_upload_still_reads_as_the_same_digit():
    big = zlib_png(2400, 2400)
    out = to_mnist(load_image_bytes(big))
    assert out is not None and out.shape == (28, 28)
    h, w = ink_bbox(out)
    assert 19 <= h <= 21 and 19 <= w <= 21  # the centred square fills the 20 px box


def test_large_jpeg_is_decoded_at_reduced_scale():
    buf = io.BytesIO()
    Image.fromarray(np.full((2400, 3200, 3), 200, np.uint8)).save(buf, format="JPEG")
    b = load_image_bytes(buf.getvalue())
    assert max(b.shape[:2]) <= WORKING_SIDE and b.shape[1] > b.shape[0]  # aspect ratio kept


def test_an_image_beyond_pillows_own_limit_gets_the_same_message():
    with pytest.raises(ValueError, match=r"^this image is too large: .*crop or shrink the picture"):
        load_image_bytes(zlib_png(20_000, 20_000, ink=False))
