"""Where Fusion Lab keeps its files: data cache, run store and saved models."""

from __future__ import annotations

import os
import re
from pathlib import Path

HOME_ENV = "FUSION_LAB_HOME"
DEFAULT_HOME = Path("~/.fusion_lab")
_RUN_FILE = re.compile(r"run_\d+\.keras")


class HomeError(OSError):
    """The data directory cannot be used (a file in its place, no permission...)."""


def home_dir() -> Path:
    """The data directory (`$FUSION_LAB_HOME`, else `~/.fusion_lab`), created on first use."""
    raw = os.environ.get(HOME_ENV) or str(DEFAULT_HOME)
    path = Path(raw).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        what = "it is a file, not a folder" if path.exists() and not path.is_dir() else exc.strerror or exc
        raise HomeError(
            f"Fusion Lab cannot use {path} as its data folder ({what}). Set {HOME_ENV} to a folder "
            f"you can write to."
        ) from exc
    return path


def data_dir() -> Path:
    path = home_dir() / "data"
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    path = home_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def store_path() -> Path:
    return home_dir() / "runs.sqlite"


def run_model_path(run_id: int) -> Path:
    """Where run `run_id`'s model lives: always inside this home's models folder, named by the id.

    The file is not created here, so this is also the path to check for a model that may not exist.
    """
    return models_dir() / f"run_{int(run_id)}.keras"


def safe_model_path(run_id: int, stored: str | os.PathLike[str] | None) -> Path | None:
    """The model file of run `run_id` that may be read or deleted, or None when it has none.

    A store can be copied from another home or edited by hand, so the path it holds is not
    trusted: it is used only when it lies inside this home's models folder (stores written before
    models were addressed by id); anything else falls back to the id's own path. Symbolic links
    that lead out of the models folder, and another run's file, are refused as well.
    """
    if not stored:
        return None
    folder = home_dir() / "models"  # not created: reading a store must not write to the home
    models = folder.resolve()
    candidates = [Path(stored)] if Path(stored).is_absolute() else []
    for path in (*candidates, folder / f"run_{int(run_id)}.keras"):
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError):  # a symlink loop, an unreadable folder
            continue
        other_run = _RUN_FILE.fullmatch(resolved.name) and resolved.name != f"run_{int(run_id)}.keras"
        if resolved.is_relative_to(models) and resolved != models and not other_run:
            return resolved
    return None
