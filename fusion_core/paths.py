"""Where Fusion Lab keeps its files: data cache, run store and saved models."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "FUSION_LAB_HOME"
DEFAULT_HOME = Path("~/.fusion_lab")


def home_dir() -> Path:
    """The data directory (`$FUSION_LAB_HOME`, else `~/.fusion_lab`), created on first use."""
    raw = os.environ.get(HOME_ENV) or str(DEFAULT_HOME)
    path = Path(raw).expanduser()
    path.mkdir(parents=True, exist_ok=True)
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
