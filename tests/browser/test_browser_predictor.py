"""The app's server never maps TensorFlow or XLA, even after a digit was drawn and predicted.

A server of its own (so no earlier test's training ran in it), with one saved model in its store:
draw a stroke in Chromium, see the prediction, then read /proc/<pid>/maps of the server and of the
prediction process it started. When the server stops, the prediction process goes with it.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from fusion_core.config import make_config
from fusion_core.models import build_model
from fusion_core.store import RunStore
from tests.browser.harness import ONE, AppServer, draw_stroke, open_page

pytestmark = pytest.mark.browser

HEAVY_LIBRARY = re.compile(r"tensorflow|xla|jaxlib", re.IGNORECASE)


def mapped_heavy_libraries(pid: int) -> set[str]:
    """Shared objects of TensorFlow, XLA or JAX mapped into process `pid`."""
    paths = {line.split()[-1] for line in Path(f"/proc/{pid}/maps").read_text().splitlines() if "/" in line}
    return {Path(p).name for p in paths if ".so" in Path(p).name and HEAVY_LIBRARY.search(p)}


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def is_predictor(pid: int) -> bool:
    try:
        return b"fusion_core.predictor" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def server_with_a_model(tmp_path):
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    config = make_config("parallel", 2, "soft", hidden_layers=1, hidden_units=32)
    store = RunStore(home / "runs.sqlite")
    run_id = store.create_run(config.to_dict(), name="Saved fusion")
    path = home / "models" / f"run_{run_id}.keras"
    build_model(config).save(path)
    store.set_model_path(run_id, path)
    store.finish(run_id, "done", results={"fused_accuracy": 0.5})
    store.close()
    server = AppServer(home, tmp_path / "streamlit.log").start()
    yield server
    server.stop()


def test_drawing_predicts_without_tensorflow_in_the_server(server_with_a_model, app_page):
    server, page = server_with_a_model, app_page
    open_page(page, f"{server.url}/draw", ready="canvas.upper-canvas")
    expect(page.get_by_text("Draw a digit in the box")).to_be_visible(timeout=60_000)
    draw_stroke(page, ONE)
    expect(page.get_by_text("What the model sees (28×28)")).to_be_visible(timeout=30_000)
    verdict = page.locator(".gtitle", has_text=re.compile(r"^Fusion: \d \(\d+% sure\)"))
    expect(verdict).to_have_count(1, timeout=30_000)

    pid = server.proc.pid
    predictors = [child for child in children(pid) if is_predictor(child)]
    assert len(predictors) == 1, f"expected one prediction process under the server, found {predictors}"
    assert mapped_heavy_libraries(predictors[0]), "the prediction process should hold TensorFlow (or XLA)"
    assert mapped_heavy_libraries(pid) == set(), "the server mapped TensorFlow/XLA libraries"

    server.stop()
    deadline = time.monotonic() + 10
    while alive(predictors[0]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(predictors[0]), "the prediction process outlived the server"
