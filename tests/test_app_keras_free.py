"""The app's server never imports Keras, TensorFlow or JAX: prediction runs in its own process.

A fresh Python process imports what the app imports (every ui module, and every module that app.py
and the page scripts import), then predicts through the page helpers: a drawing, the robustness
grid and curve, a training accuracy, an upload and the device line. Keras must stay out of it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from fusion_core.config import make_config
from fusion_core.models import build_model
from fusion_core.store import RunStore

ROOT = Path(__file__).resolve().parents[1]


def app_imports() -> list[str]:
    """Every project module app.py and pages/*.py import at their top level (third-party ones such
    as the canvas component refuse to be imported outside a running server, and import no Keras)."""
    names = set()
    for script in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        for node in ast.parse(script.read_text()).body:
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
    return sorted(name for name in names if name.split(".")[0] in ("fusion_core", "ui"))


SCRIPT = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys
    import numpy as np

    import fusion_core.data
    import ui

    modules = json.loads(sys.argv[1])
    run_id = int(sys.argv[2])
    for info in pkgutil.iter_modules(ui.__path__):
        importlib.import_module("ui." + info.name)
    for name in modules:
        importlib.import_module(name)

    data = fusion_core.data.synthetic_digits(300, seed=2)
    fusion_core.data.load_mnist = lambda *a, **k: data  # what get_mnist() reads

    from ui import labs, labs_views, predict_ui, state

    store = state.get_store()
    run = store.get_run(run_id)
    path = predict_ui.load_run_model(run)
    stroke = np.full((280, 280, 4), 255, np.uint8)
    stroke[40:240, 130:148, :3] = 0
    drawn = predict_ui.predict_drawing(path, stroke)
    labs_views.perturbed_grid([run], data, "rotate", 30.0)
    curve = labs.robustness_rows(run_id, path, 1.0, "rotate")
    train_accuracy = labs._training_accuracy(run_id, path, 1.0)
    with open(path, "rb") as f:
        uploaded = state.get_predictor("labs").register_upload(store, "copy.keras", f.read(), mnist=data)
    store.register_worker("worker-1")  # the sidebar's device line is what a worker reports
    store.set_worker_device("worker-1", backend="tensorflow", device="CPU")
    device = state.get_device()
    print(json.dumps({
        "members": len(drawn.members),
        "curve_rows": len(curve),
        "train_accuracy": train_accuracy,
        "uploaded_status": store.get_run(uploaded)["status"],
        "device": device["device"],
        "pids": [state.get_predictor(role).pid for role in state.PREDICTOR_ROLES],
        "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("keras", "tensorflow", "jax")),
    }))
    """
)


def test_the_app_side_never_imports_keras_even_while_predicting(fusion_home):
    config = make_config("parallel", 3, "soft", hidden_layers=1, hidden_units=16, train_size=200)
    store = RunStore()
    run_id = store.create_run(config.to_dict(), name="tiny")
    path = fusion_home / "models" / f"run_{run_id}.keras"
    path.parent.mkdir(parents=True, exist_ok=True)
    build_model(config).save(path)
    store.set_model_path(run_id, path)
    store.finish(run_id, "done", results={"fused_accuracy": 0.5})
    store.close()

    modules = app_imports()
    assert {"ui.predict_ui", "ui.labs", "fusion_core.perturb"} <= set(modules)  # the parse found them
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(modules), str(run_id)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["members"] == 3
    assert report["curve_rows"] == 4 * 7  # 3 members and the fusion at 7 strengths
    assert isinstance(report["train_accuracy"], float)
    assert report["uploaded_status"] == "done"
    assert report["device"]
    draw_pid, labs_pid = report["pids"]  # strokes never queue behind a lab's measurement
    assert draw_pid and labs_pid and draw_pid != labs_pid
    assert report["loaded"] == [], f"the app side imported {report['loaded'][:5]}"
