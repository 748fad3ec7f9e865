"""Models uploaded as .keras files: check that Fusion Lab made them and add them to the run store."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from fusion_core.config import ConfigError, FusionConfig, MemberConfig, RunConfig, TrainConfig
from fusion_core.registry import FUSED, member_index, parse_model_name


class NotAFusionModel(ValueError):
    """An uploaded file is not a model that Fusion Lab saved; the message says why."""


def infer_config(model) -> RunConfig:
    """The RunConfig a Fusion Lab model was most likely built from, read from its layers.

    Fusion Lab names its models '<type>_<rule>_x<members>' and its layers 'member_<k>_dense_<i>';
    training settings are not saved in the model, so they keep their defaults.
    """
    match = parse_model_name(model.name or "")
    num_members = sum(1 for name in model.output_names if member_index(name) is not None)
    fusion = FusionConfig(type="parallel" if num_members > 1 else "single", num_members=num_members)
    fusion.rule = "soft" if num_members > 1 else "none"
    if match:
        fusion_type, rule, count = match
        fusion = FusionConfig(type=fusion_type, num_members=count, rule=rule)
    try:
        fusion.meta_units = int(model.get_layer("meta_dense").units)
    except ValueError:
        pass
    members = [_member_config(model, k) for k in range(num_members)]
    same = all(m == members[0] for m in members)
    config = RunConfig(
        member=members[0] if members else MemberConfig(),
        members=None if same else members,
        fusion=fusion,
        training=TrainConfig(),
    )
    return config.validate()


def _member_config(model, index: int) -> MemberConfig:
    dense = sorted(
        (layer for layer in model.layers if re.fullmatch(rf"member_{index}_dense_\d+", layer.name)),
        key=lambda layer: int(layer.name.rsplit("_", 1)[1]),
    )
    drops = [layer for layer in model.layers if re.fullmatch(rf"member_{index}_drop_\d+", layer.name)]
    units = [int(layer.units) for layer in dense]
    acts = [layer.get_config()["activation"] for layer in dense]
    acts = [a if isinstance(a, str) else a.get("config", {}).get("name", "relu") for a in acts]
    reg = dense[0].get_config().get("kernel_regularizer") if dense else None
    l2 = float((reg or {}).get("config", {}).get("l2", 0.0)) if isinstance(reg, dict) else 0.0
    return MemberConfig(
        hidden_layers=max(1, len(dense)),
        hidden_units=units[0] if len(set(units)) == 1 else units,
        activation=acts[0] if len(set(acts)) == 1 else acts,
        dropout_rate=float(drops[0].rate) if drops else 0.0,
        l2=round(l2, 8),
    )


def register_uploaded_model(store, filename: str, data: bytes, *, mnist=None) -> int:
    """Save an uploaded .keras file, check that Fusion Lab made it, and add it to the store as a run.

    The model must load with `fusion_core.models.load_model` and have a 'fused' output and at least
    one 'member_<k>' output; otherwise NotAFusionModel is raised and nothing is kept. With `mnist`
    (fusion_core.data.MnistData) it is scored on the test set so the Runs table shows its accuracy.
    Returns the new run id.
    """
    from fusion_core import paths
    from fusion_core.jobs import model_path_for
    from fusion_core.models import load_model

    digest = hashlib.sha256(data).hexdigest()[:16]
    staging = paths.models_dir() / f"upload_{digest}.keras"
    staging.write_bytes(data)
    try:
        try:
            model = load_model(staging)
        except Exception as exc:  # noqa: BLE001 - any failure to load means "not one of ours"
            raise NotAFusionModel(f"it does not load as a Keras model ({type(exc).__name__}: {exc})") from exc
        names = list(getattr(model, "output_names", None) or [])
        if FUSED not in names or not any(member_index(n) is not None for n in names):
            raise NotAFusionModel(f"expected outputs 'member_0', ... and 'fused'. Received: outputs={names}")
        try:
            config = infer_config(model)
        except (ConfigError, ValueError, KeyError, TypeError) as exc:
            raise NotAFusionModel(f"its layers do not describe a Fusion Lab network ({exc})") from exc
    except BaseException:
        staging.unlink(missing_ok=True)
        raise

    run_id = store.create_run(config.to_dict(), name=Path(filename).stem or None, kind="upload")
    target = model_path_for(run_id)
    os.replace(staging, target)
    results: dict[str, Any] = {"uploaded_from": filename}
    if mnist is not None:
        from fusion_core.evaluate import evaluate

        x_test = mnist.x_test.reshape(len(mnist.x_test), -1).astype("float32") / 255.0
        results.update(evaluate(model, x_test, mnist.y_test.astype("int64"), config.fusion.num_members))
    results["model_bytes"] = target.stat().st_size
    store.set_model_path(run_id, str(target))
    store.finish(run_id, "done", results=results)
    return run_id
