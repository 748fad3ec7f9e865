"""Turn a drawn or uploaded digit into the 28x28 image an MNIST model expects.

MNIST's own recipe (LeCun et al.): the digit is cropped to its bounding box, scaled with
anti-aliasing so that its longer side is 20 pixels (aspect ratio kept), pasted into a 28x28 frame
and shifted so that its centre of mass sits at the centre of the frame. Pixels are ink intensity,
white (1.0) ink on a black (0.0) background.

`to_mnist` does the same for a streamlit-drawable-canvas image (RGBA, black strokes on white), an
RGB or grayscale upload, light or dark background. `load_image_bytes` decodes an uploaded file.

Pure numpy + scipy.ndimage + PIL; it runs on every canvas stroke and takes about a millisecond for
a 280x280 canvas.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

BACKGROUNDS = ("auto", "light", "dark")
FRAME = 28  # side of the output image
BOX = 20  # the longer side of the digit after scaling
# Where the centre of mass is put, as (row, column) in pixel-index coordinates.
CENTER = (14.0, 14.0)
# Ink weaker than this (after background subtraction) is noise: paper texture, JPEG artefacts.
INK_THRESHOLD = 0.1

# Uploads: a digit needs few pixels, a decoded image costs about 4 bytes per pixel (RGBA) before any
# conversion. A 316 KB 10000x10000 PNG once cost 1.9 GB and 8 s to decode; 13000x13000 RGBA, 5.2 GB.
# The size in the file's header is checked before anything is decoded: above MAX_UPLOAD_PIXELS (an
# 8-megapixel photo fits, under a tenth of Pillow's own 89-megapixel bomb limit) the file is refused.
# JPEGs are decoded at a reduced scale (draft mode), everything is then shrunk so that its longer
# side is at most WORKING_SIDE: to_mnist needs 20 px, and 1024 keeps thin strokes intact.
MAX_UPLOAD_PIXELS = 4096 * 2048
WORKING_SIDE = 1024

# ITU-R 601 luma, the weights PIL uses for mode "L".
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _to_unit_float(a: np.ndarray) -> np.ndarray:
    """Pixel values as float32 in [0, 1], whatever the input dtype."""
    if a.dtype == np.bool_:
        return a.astype(np.float32)
    if np.issubdtype(a.dtype, np.integer):
        top = float(a.max()) if a.size else 0.0
        scale = 255.0 if top <= 255 else 65535.0 if top <= 65535 else top
        return a.astype(np.float32) / np.float32(scale)
    if np.issubdtype(a.dtype, np.floating):
        f = np.nan_to_num(a.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        if f.size and f.max() > 1.0:  # floats on a 0..255 scale
            f = f / np.float32(255.0)
        return np.clip(f, 0.0, 1.0)
    raise ValueError(f"image must hold numbers; got dtype {a.dtype}")


def _split(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(luminance, alpha or None), both float32 (H, W) in [0, 1]."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        gray, alpha = a, None
    elif a.ndim == 3 and a.shape[2] in (3, 4):
        gray, alpha = a[:, :, :3], (a[:, :, 3] if a.shape[2] == 4 else None)
    else:
        raise ValueError(
            f"image must be grayscale (H, W), RGB (H, W, 3) or RGBA (H, W, 4); got shape {a.shape}"
        )
    if gray.shape[0] == 0 or gray.shape[1] == 0:
        raise ValueError(f"image is empty; got shape {a.shape}")
    lum = _to_unit_float(gray)
    if lum.ndim == 3:
        lum = lum @ _LUMA
    return lum, (None if alpha is None else _to_unit_float(alpha))


def _border(a: np.ndarray) -> np.ndarray:
    """The outermost ring of pixels of a 2-D array, flattened."""
    if a.shape[0] <= 2 or a.shape[1] <= 2:
        return a.ravel()
    return np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])


def _ink(lum: np.ndarray, alpha: np.ndarray | None, background: str) -> np.ndarray:
    """Ink intensity (H, W) in [0, 1]: how far each pixel is from the background level."""
    opaque = None if alpha is None else alpha >= 0.5
    border_opaque = None if opaque is None else _border(opaque)
    if border_opaque is not None and border_opaque.mean() < 0.5:
        # Transparent background (a bare drawing layer): only what was painted is ink, whatever
        # its colour. Transparent pixels take the background level opposite to the strokes.
        painted = lum[opaque]
        dark_strokes = painted.size == 0 or float(np.median(painted)) < 0.5
        if background == "auto":
            background = "light" if dark_strokes else "dark"
        bg_level = 1.0 if background == "light" else 0.0
    else:
        ring = _border(lum) if border_opaque is None else _border(lum)[border_opaque]
        bg_level = float(np.median(ring))
        if background == "auto":
            background = "light" if bg_level >= 0.5 else "dark"
        elif (background == "light") != (bg_level >= 0.5):
            # The caller's polarity disagrees with the border; trust the caller, use pure levels.
            bg_level = 1.0 if background == "light" else 0.0
    ink = (bg_level - lum) if background == "light" else (lum - bg_level)
    if alpha is not None:
        ink = ink * alpha  # fully transparent pixels are background
    return np.clip(ink, 0.0, 1.0)


def _resize(a: np.ndarray, height: int, width: int) -> np.ndarray:
    # PIL on a float ("F") image. BOX is area averaging when shrinking, the anti-aliasing MNIST's
    # makers used: every output pixel is the mean ink over its footprint, so thin strokes do not
    # vanish or alias (scipy zoom with order=1 point-samples) and nothing rings past [0, 1]
    # (LANCZOS does). Enlarging a tiny digit uses BILINEAR instead of BOX's blocky copy.
    shrinking = height <= a.shape[0] and width <= a.shape[1]
    method = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    img = Image.fromarray(np.ascontiguousarray(a, dtype=np.float32))
    return np.asarray(img.resize((width, height), resample=method), dtype=np.float32)


def to_mnist(image: np.ndarray, *, background: str = "auto") -> np.ndarray | None:
    """A drawn or uploaded digit as MNIST sees it: float32 (28, 28) in [0, 1], white ink on black.

    `image` is RGBA (H, W, 4), RGB (H, W, 3) or grayscale (H, W) (uint8, uint16, bool or float in
    [0, 1]). `background` says whether the paper is "light" (dark ink, the canvas) or "dark"
    (light ink, like MNIST itself); "auto" reads it from the median of the border pixels. For
    RGBA, fully transparent pixels are background; when the border is transparent (a bare
    drawing layer) the painted pixels are the ink, on whichever background contrasts with them.

    Steps: ink intensity relative to the background level, ink under `INK_THRESHOLD` dropped as
    noise, crop to the ink's bounding box, scale so the longer side is 20 px (area averaging), paste
    into the centre of a 28x28 frame, shift (sub-pixel, bilinear) so that the centre of mass sits
    at `CENTER` (ink pushed past the frame by a very lopsided shape is cut off, as in MNIST), and
    stretch so that the strongest pixel is 1.0 (MNIST strokes are fully saturated; a thin canvas
    stroke averages to grey when shrunk).

    Returns None when there is no ink (an empty canvas).
    """
    if background not in BACKGROUNDS:
        raise ValueError(f"background must be one of {', '.join(map(repr, BACKGROUNDS))}; got {background!r}")
    lum, alpha = _split(image)
    ink = _ink(lum, alpha, background)
    ink[ink < INK_THRESHOLD] = 0.0

    rows = np.flatnonzero(ink.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(ink.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]

    h, w = crop.shape
    scale = BOX / max(h, w)
    new_h = min(BOX, max(1, round(h * scale)))
    new_w = min(BOX, max(1, round(w * scale)))
    small = _resize(crop, new_h, new_w)

    frame = np.zeros((FRAME, FRAME), dtype=np.float32)
    top, left = (FRAME - new_h) // 2, (FRAME - new_w) // 2
    frame[top : top + new_h, left : left + new_w] = small

    if frame.sum() <= 0:  # cannot happen for ink above the threshold, but never divide by zero
        return None
    com_r, com_c = ndimage.center_of_mass(frame)
    dy, dx = CENTER[0] - com_r, CENTER[1] - com_c
    if abs(dy) > 1e-6 or abs(dx) > 1e-6:
        frame = ndimage.shift(frame, (dy, dx), order=1, mode="constant", cval=0.0, prefilter=False)

    top_value = float(frame.max())
    if top_value <= 0:
        return None
    return np.clip(frame / np.float32(top_value), 0.0, 1.0).astype(np.float32)


def load_image_bytes(data: bytes) -> np.ndarray:
    """Decode an uploaded PNG or JPEG (or anything PIL reads) into a uint8 array.

    Returns (H, W) for grayscale files, (H, W, 4) for files with transparency, else (H, W, 3), with
    the longer side at most `WORKING_SIDE` (larger images are shrunk, aspect ratio kept).
    JPEG orientation tags from phone cameras are applied; an animated file gives its first frame.
    Raises ValueError("could not read this file as an image: ...; upload a PNG or JPEG") for
    anything that is not a readable image, and ValueError("this image is too large: ...") for an
    image whose header declares more than `MAX_UPLOAD_PIXELS` pixels, before decoding it.
    """
    try:
        raw = bytes(data)
        if not raw:
            raise ValueError("the file is empty")
        with warnings.catch_warnings():  # our own cap, far lower, is checked next
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(raw))
        with opened:
            _refuse_too_large(opened.size)
            # JPEG only: decode at 1/2, 1/4 or 1/8 scale when that still leaves WORKING_SIDE pixels.
            opened.draft(None, (WORKING_SIDE, WORKING_SIDE))
            opened.load()
            img = ImageOps.exif_transpose(opened) or opened
            mode = img.mode
            if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):  # 16-bit or float grayscale
                a = np.asarray(_shrink(img.convert("F")), dtype=np.float64)
                top = a.max() if a.size else 0.0
                a = a / 257.0 if top > 255 else a
                return np.clip(np.rint(a), 0, 255).astype(np.uint8)
            if mode == "1":
                img = img.convert("L")
            elif mode in ("LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in img.info):
                img = img.convert("RGBA")
            elif mode not in ("L", "RGB", "RGBA"):
                img = img.convert("RGB")
            return np.array(_shrink(img), dtype=np.uint8)
    except ImageTooLarge:
        raise
    except Image.DecompressionBombError as exc:  # above twice Pillow's limit: refused while opening
        raise ImageTooLarge(
            f"this image is too large: {exc}; crop or shrink the picture and upload it again"
        ) from exc
    except UnidentifiedImageError as exc:
        raise ValueError(
            "could not read this file as an image: not a recognised image format; upload a PNG or JPEG"
        ) from exc
    except Exception as exc:  # PIL raises many types for damaged files: OSError, SyntaxError, ...
        reason = str(exc) or type(exc).__name__
        raise ValueError(f"could not read this file as an image: {reason}; upload a PNG or JPEG") from exc


class ImageTooLarge(ValueError):
    """An upload declares more pixels than `MAX_UPLOAD_PIXELS`; refused before decoding."""


def _refuse_too_large(size: tuple[int, int]) -> None:
    width, height = size
    if width * height > MAX_UPLOAD_PIXELS:
        raise ImageTooLarge(
            f"this image is too large: {width:,} x {height:,} pixels; a digit needs far fewer. "
            f"Expected at most {MAX_UPLOAD_PIXELS:,} pixels in all (for example "
            f"{int(MAX_UPLOAD_PIXELS**0.5):,} x {int(MAX_UPLOAD_PIXELS**0.5):,}); "
            "crop or shrink the picture and upload it again"
        )


def _shrink(img: Image.Image) -> Image.Image:
    """The image with its longer side at most WORKING_SIDE (area averaging, aspect ratio kept)."""
    if max(img.size) <= WORKING_SIDE:
        return img
    scale = WORKING_SIDE / max(img.size)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.BOX, reducing_gap=2.0)
