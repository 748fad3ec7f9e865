"""What a run is called on the pages, and where it came from.

A run the store names by default ('Run 12', what `RunStore.create_run` gives a run started without
a name), and a lab's run (named by the engine, in English), is shown by its configuration in a few
words, in the visitor's language, computed when it is drawn: "5 × MLP · soft vote · 3 epochs" /
"5 × 多层感知机 · 软投票 · 3 轮". The store keeps no translated words; a name someone gave a run
is shown as it is.

A run's origin is the `kind` the store records for it (jobs.submit(kind=...), uploads, the CLI),
grouped into the few origins a visitor filters by.
"""

from __future__ import annotations

import re

from fusion_core.config import MNIST_TRAIN_SIZE, ConfigError, RunConfig
from ui.i18n import t

# origin code -> the run kinds the store records for it
ORIGINS: dict[str, tuple[str, ...]] = {
    "train": ("train",),
    "draw": ("quick",),
    "lab": ("sweep", "cost", "overfit", "robustness"),
    "upload": ("upload",),
    "cli": ("cli",),
}


# The names the labs give their runs (ui/labs_views.py, pages/cost.py, pages/overfitting.py)
LAB_NAMES = re.compile(
    r"sweep \S+ n=\d+ seed \d+|robustness 1 minute: (single|fusion)"
    r"|cost (single|parallel|serial|hybrid)\b.*|overfit [\w+@.-]+"
)


def origin_of(run: dict) -> str | None:
    """The origin code of a stored run (None for a kind this version does not know)."""
    kind = run.get("kind") or "train"
    return next((code for code, kinds in ORIGINS.items() if kind in kinds), None)


def origin_label(code: str | None) -> str:
    return t(f"share.origin.{code}") if code in ORIGINS else t("share.origin.other")


def format_count(n: int) -> str:
    """Whole numbers one way on every page: 10,000."""
    return f"{int(n):,}"


def format_percent(value: float | None) -> str:
    """Accuracies one way on every page: 97.53%."""
    return f"{value:.2%}" if value is not None else t("predict.no_accuracy")


def config_title(config: RunConfig) -> str:
    """A configuration in a few words, in the visitor's language: '5 × MLP · soft vote · 3 epochs'."""
    fusion, training = config.fusion, config.training
    kinds = config.kinds()
    if len(set(kinds)) > 1:
        members = " + ".join(t(f"share.name.kind.{k}") for k in kinds)
    elif fusion.type == "single":
        members = t(f"share.name.kind.{kinds[0]}")
    else:
        members = f"{fusion.num_members} × {t(f'share.name.kind.{kinds[0]}')}"
    parts = [members]
    if fusion.type != "single":
        parts.append(t(f"share.name.rule.{fusion.rule}"))
    if fusion.bootstrap:
        parts.append(t("share.name.bagging"))
    parts.append(t("share.name.epochs", n=training.epochs) if training.epochs != 1 else t("share.name.epoch"))
    if training.train_size < MNIST_TRAIN_SIZE:
        parts.append(t("share.name.images", n=format_count(training.train_size)))
    return " · ".join(parts)


def _config(run: dict) -> RunConfig | None:
    try:
        return RunConfig.from_dict(dict(run.get("config") or {})).validate()
    except (ConfigError, TypeError, ValueError):
        return None


def is_default_name(run: dict) -> bool:
    """Whether the run's name is not one a person chose: the store's 'Run 12', or the name a lab gave
    its run ('sweep single n=250 seed 0', written by the engine in English)."""
    name = (run.get("name") or "").strip()
    if not name or name == f"Run {run.get('id')}":
        return True
    return origin_of(run) == "lab" and LAB_NAMES.fullmatch(name) is not None


def run_title(run: dict) -> str:
    """The run's name as shown: its own, or its configuration in a few words when it has none."""
    if not is_default_name(run):
        return run["name"]
    config = _config(run)
    if config is None or run.get("kind") == "upload":
        return t("share.name.run", id=run.get("id"))
    return config_title(config)


def run_label(run: dict, accuracy: float | None) -> str:
    """One line for a picker: '#12 · 5 × MLP · soft vote · 3 epochs · 97.53%'. A named run adds
    its configuration once; an unnamed one is already named by it."""
    title = run_title(run)
    config = _config(run)
    if not is_default_name(run) and config is not None and run.get("kind") != "upload":
        title = f"{title} · {config_title(config)}"
    return t("share.run_label", id=run.get("id"), title=title, accuracy=format_percent(accuracy))
