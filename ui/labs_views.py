"""The pieces of the lab pages that only one lab needs, built on ui.labs.

- Data size: the plan (configurations, sizes, seeds, epochs) as points and as URL parameters, and
  the rows summarise_sweep reads.
- Overfitting: the newest finished run of each variant, with its gap and its curves.
- Robustness: the default choice of models, and the grid of perturbed test digits with predictions.
- Robustness and Cost: their '1 minute' plans (?plan=minute), with a time estimate from
  fusion_core.limits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st

from fusion_core.config import RunConfig
from fusion_core.data import MnistData
from fusion_core.experiments import (
    FUSED,
    MAX_SEEDS,
    SWEEP_CONFIGS,
    perturbed_examples,
    plan_size_sweep,
    sweep_config,
)
from fusion_core.limits import format_minutes
from fusion_core.store import RunStore
from ui.i18n import t
from ui.labs import PLAN_PARAM, Point, lab_overrides, model_mtime, run_training_accuracy
from ui.labs_charts import config_label, short_count, variant_code, variant_label
from ui.predict_ui import enlarge, sample_indices
from ui.presets import MINUTE_SECONDS, cost_minute_configs, plan_seconds, robust_minute_configs
from ui.state import get_predictor

# -- data size ------------------------------------------------------------------------------------

SWEEP_PARAMS = ("configs", "sizes", "seeds", "epochs")  # the plan's URL parameters, besides the group
# The '1 minute' plan (the Data size page's button, ?plan=minute and the lesson): 8 runs, estimated at
# 58 s before any run calibrates the estimate; two seeds give each point its error bar.
SWEEP_MINUTE_PLAN = {"configs": ["single", "parallel"], "sizes": [500, 2_000], "seeds": 2, "epochs": 2}


def sweep_points(plan: dict) -> list[Point]:
    """The plan's points ({configs, sizes, seeds, epochs}), smallest size first; ValueError if invalid."""
    overrides = lab_overrides()
    points = []
    for p in plan_size_sweep(plan["configs"], plan["sizes"], plan["seeds"]):
        config = sweep_config(p.config_name, p.train_size, p.seed, plan["epochs"], **overrides)
        label = t(
            "size.point", config=config_label(p.config_name), size=short_count(p.train_size), seed=p.seed
        )
        name = f"sweep {p.config_name} n={p.train_size} seed {p.seed}"
        meta = {"config_name": p.config_name, "train_size": p.train_size, "seed": p.seed}
        points.append(Point(label, config, name, meta))
    return points


def sweep_params(plan: dict) -> dict[str, str]:
    """The plan as URL parameters: configs=single,parallel&sizes=250,500&seeds=1&epochs=5."""
    return {"configs": ",".join(plan["configs"]), "sizes": ",".join(str(s) for s in plan["sizes"]),
            "seeds": str(plan["seeds"]), "epochs": str(plan["epochs"])}  # fmt: skip


def sweep_plan(params: dict[str, str]) -> dict | None:
    """The plan read back from URL parameters; None when they are missing or malformed."""
    try:
        return {
            "configs": [c for c in params["configs"].split(",") if c],
            "sizes": [int(s) for s in params["sizes"].split(",") if s],
            "seeds": int(params["seeds"]),
            "epochs": int(params["epochs"]),
        }
    except (KeyError, ValueError):
        return None


def sweep_widget_values(plan: dict, *, sizes: Sequence[int], max_epochs: int) -> dict[str, object]:
    """The data-size controls' starting values for `plan`, kept to what the controls can show."""
    return {
        "size_configs": [c for c in plan["configs"] if c in SWEEP_CONFIGS],
        "size_sizes": [s for s in plan["sizes"] if s in sizes],
        "size_seeds": min(max(plan["seeds"], 1), MAX_SEEDS),
        "size_epochs": min(max(plan["epochs"], 1), max_epochs),
    }


def sweep_rows(points: Sequence[Point], runs: Sequence[dict | None], *, measure: bool = True) -> list[dict]:
    """One row per started point, as summarise_sweep reads them; x is the images actually trained on.

    `measure=False` leaves out training accuracies not measured yet (see run_training_accuracy)."""
    rows = []
    for point, run in zip(points, runs, strict=True):
        if run is None:
            continue
        results = run.get("results") or {}
        rows.append({
            **point.meta,
            "train_size": results.get("n_train") or point.meta["train_size"],
            "run_id": run["id"],
            "status": run["status"],
            "test_accuracy": results.get("fused_accuracy"),
            "train_accuracy": run_training_accuracy(run, measure=measure),
        })  # fmt: skip
    return rows


# -- overfitting ----------------------------------------------------------------------------------


def overfit_variants(store: RunStore) -> tuple[list[dict], dict[str, list[dict]]]:
    """The newest finished overfitting run of each variant: (gap rows, metric rows per variant)."""
    newest: dict[str, dict] = {}  # by variant code: the words differ from one language to another
    for run in store.list_runs(kind="overfit", status="done"):  # newest first
        newest.setdefault(variant_code(run["config"]), run)
    rows, curves = [], {}
    for code in sorted(newest, key=lambda c: (c != "plain", c)):  # the plain network first
        run = newest[code]
        variant = variant_label(run["config"])
        results = run.get("results") or {}
        metrics = store.metrics(run["id"])
        val = [m["accuracy"] for m in metrics if m["split"] == "val" and m["series"] == FUSED]
        rows.append({
            "variant": variant,
            "code": code,
            "run_id": run["id"],
            "epochs": round(results.get("epochs_completed") or 0, 1),
            "train_accuracy": run_training_accuracy(run),
            "val_accuracy": val[-1] if val else None,
            "test_accuracy": results.get("fused_accuracy"),
        })  # fmt: skip
        curves[variant] = metrics
    return rows, curves


# -- robustness -----------------------------------------------------------------------------------

GRID_DIGITS = 1  # test digits of each class in the grid of perturbed examples


def default_robust_runs(runs: Sequence[dict]) -> list[int]:
    """The newest single network and the newest fusion among `runs` (newest first)."""
    picks = []
    for single in (True, False):
        for run in runs:
            if ((run.get("config") or {}).get("fusion", {}).get("type") == "single") == single:
                picks.append(run["id"])
                break
    return picks


def tag(i: int) -> str:
    """0 -> 'A', 1 -> 'B', ...: how the grid names the chosen models."""
    return chr(ord("A") + i)


@st.cache_data(show_spinner=False, max_entries=256)
def grid_predictions(
    model_path: str, mtime: float | None, kind: str, strength: float, _images: np.ndarray
) -> np.ndarray:
    """A model's fused predictions of the grid's damaged digits (cached: the same digits and damage
    for the same kind and strength), computed by the labs prediction process."""
    flat = _images.reshape(len(_images), -1)
    return get_predictor("labs").probabilities(model_path, flat)[FUSED].argmax(axis=1)


def perturbed_grid(runs: Sequence[dict], mnist: MnistData, kind: str, strength: float) -> None:
    """One test digit of each class at this strength, each model's fused prediction below it."""
    idx = sample_indices(mnist.y_test, per_class=GRID_DIGITS)
    images = perturbed_examples(mnist.x_test[idx], kind, strength, n=len(idx))
    truth = mnist.y_test[idx].astype(int)
    predictions = [
        grid_predictions(run["model_path"], model_mtime(run), kind, strength, images) for run in runs
    ]
    for column, j in zip(st.columns(len(idx)), range(len(idx)), strict=True):
        column.image(enlarge(images[j], scale=4), caption=t("robust.true", digit=truth[j]), width="stretch")
        lines = [
            f"{tag(i)} :{'green' if pred[j] == truth[j] else 'red'}[**{pred[j]}**]"
            for i, pred in enumerate(predictions)
        ]
        column.markdown("  \n".join(lines))


# -- one-minute plans (robustness, cost) ------------------------------------------------------------

MINUTE = "minute"
# The robustness plan's damage: the noise every classroom recognises.
ROBUST_MINUTE_KIND = "gaussian_noise"


def minute_requested() -> bool:
    """Whether the URL asks for the page's one-minute plan (?plan=minute); Robustness and Cost keep
    the parameter in the URL (their plan is part of what a shared link shows)."""
    return st.query_params.get(PLAN_PARAM) == MINUTE


def robust_minute_points() -> list[Point]:
    """A single network against a fusion trained alike (ui.presets.robust_minute_configs)."""
    single, fusion = robust_minute_configs()
    return [
        Point(t("robust.minute.point.single"), single, "robustness 1 minute: single", {"role": "single"}),
        Point(t("robust.minute.point.fusion"), fusion, "robustness 1 minute: fusion", {"role": "fusion"}),
    ]


def cost_minute_points() -> list[Point]:
    """Five of the cost preset's runs: one network, soft votes of 2, 3 and 5, a hybrid of 3."""
    points = []
    for config in cost_minute_configs():
        fusion_type, k = config.fusion.type, config.fusion.num_members
        label = t(f"cost.minute.point.{fusion_type}", k=k)
        points.append(Point(label, config, f"cost {config.describe()}", {"type": fusion_type, "k": k}))
    return points


def minute_seconds(configs: Sequence[RunConfig], store: RunStore) -> float:
    """Estimated wall time of the configs not yet in the store (ui.presets.plan_seconds)."""
    todo = [c for c in configs if store.find_done_run(c.to_dict()) is None]
    return plan_seconds(todo, store.list_runs(status="done"))


def minute_estimate_text(points: Sequence[Point], store: RunStore) -> str:
    """'2 runs to train, 0 in the store · about 31 s (limit 60 s)'."""
    todo = sum(store.find_done_run(p.config.to_dict()) is None for p in points)
    seconds = minute_seconds([p.config for p in points], store)
    return t("minute.estimate", todo=todo, reused=len(points) - todo, time=format_minutes(seconds),
             limit=format_minutes(MINUTE_SECONDS))  # fmt: skip
