"""Draw a digit: image -> predictions with a real (tiny) model, and the page through AppTest.

The canvas is a custom component that AppTest cannot drive, so the page's drawing path is tested
through `predict_drawing` (the function the page calls), and the page itself through its upload
path, which AppTest can drive.
"""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest
from page_support import APP, PAGE_TIMEOUT
from PIL import Image
from streamlit.testing.v1 import AppTest

import fusion_core.data
from fusion_core.config import make_config
from fusion_core.evaluate import predict_one
from fusion_core.models import build_model
from fusion_core.preprocess import to_mnist
from fusion_core.store import RunStore

REAL_LOAD_MNIST = fusion_core.data.load_mnist


pytestmark = pytest.mark.usefixtures("app_home")


def tiny_run(name: str = "Tiny fusion", members: int = 3) -> tuple[int, object, str]:
    """A saved, untrained parallel soft fusion registered as a finished run in the tmp store:
    (run id, the Keras model, the path the prediction process loads it from)."""
    from fusion_core import paths

    config = make_config("parallel", members, "soft", hidden_layers=1, hidden_units=16)
    model = build_model(config)
    store = RunStore()
    run_id = store.create_run(config.to_dict(), name=name)
    path = paths.models_dir() / f"run_{run_id}.keras"
    model.save(path)
    store.set_model_path(run_id, path)
    store.finish(run_id, "done", results={"fused_accuracy": 0.5})
    store.close()
    return run_id, model, str(path)


def stroke() -> np.ndarray:
    """What the canvas returns for a '1': 280x280 RGBA, white and opaque, one thick black stroke."""
    img = np.full((280, 280, 4), 255, np.uint8)
    img[40:240, 130:148, :3] = 0
    return img


def png_bytes(rgba: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, format="PNG")
    return buf.getvalue()


def open_draw() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=PAGE_TIMEOUT).run()
    at.switch_page("pages/draw.py").run()
    assert not at.exception, at.exception
    return at


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


# -- the image -> predictions path ------------------------------------------------------------------


def test_predict_drawing_on_a_synthetic_stroke():
    from ui.predict_ui import predict_drawing

    _, model, path = tiny_run()
    pred = predict_drawing(path, stroke())
    assert pred.image.shape == (28, 28) and pred.image.max() == pytest.approx(1.0)
    assert len(pred.members) == 3
    for p in [*pred.members, pred.fused]:
        assert p.shape == (10,) and p.sum() == pytest.approx(1.0, abs=1e-5)
    # Soft voting: the fused probabilities are the members' mean.
    np.testing.assert_allclose(pred.fused, np.mean(pred.members, axis=0), atol=1e-6)
    # Same numbers as preprocessing and a direct model call done by hand.
    direct = predict_one(model, to_mnist(stroke()))
    np.testing.assert_allclose(pred.fused, direct["fused"], atol=1e-6)
    np.testing.assert_allclose(pred.members[2], direct["member_2"], atol=1e-6)
    assert pred.digit == int(np.argmax(direct["fused"]))


def test_blank_canvas_gives_no_prediction():
    from ui.predict_ui import predict_drawing

    _, _, path = tiny_run()
    assert predict_drawing(path, np.full((280, 280, 4), 255, np.uint8)) is None


def test_predict_drawing_is_fast_once_warm():
    from ui.predict_ui import predict_drawing

    _, _, path = tiny_run()
    predict_drawing(path, stroke())
    t0 = time.perf_counter()
    for _ in range(5):
        predict_drawing(path, stroke())
    assert (time.perf_counter() - t0) / 5 < 0.25  # a canvas stroke must feel instant


def test_disagreeing_members_are_the_ones_whose_top_digit_differs():
    from ui.predict_ui import DrawPrediction

    seven, one = np.eye(10)[7] * 0.9 + 0.01, np.eye(10)[1] * 0.9 + 0.01
    pred = DrawPrediction(image=np.zeros((28, 28)), members=[seven, one, seven], fused=(2 * seven + one) / 3)
    assert pred.digit == 7 and pred.member_digits == [7, 1, 7]
    assert pred.disagreeing == [1]


# -- the page ---------------------------------------------------------------------------------------


def test_page_renders_without_runs_and_offers_a_quick_fusion():
    at = open_draw()
    assert at.title[0].value == "Draw a digit"
    assert at.button(key="quick_train").label == "Train a quick fusion"
    assert not [s for s in at.selectbox if s.key == "draw_run"]


def test_a_visitor_with_enough_runs_waiting_cannot_start_a_quick_fusion():
    from fusion_core.limits import MAX_ACTIVE_PER_VISITOR

    store = RunStore()
    mine = [store.create_run(make_config().to_dict()) for _ in range(MAX_ACTIVE_PER_VISITOR)]
    at = open_draw()
    at.session_state["visitor_run_ids"] = mine
    at.run()
    refusal = f"You already have {MAX_ACTIVE_PER_VISITOR} runs queued or running"
    assert any(refusal in e.value for e in at.error)
    assert at.button(key="quick_train").disabled
    store.finish(mine[0], "failed", error="made for the test")
    at.run()
    assert not at.button(key="quick_train").disabled


def test_page_predicts_an_uploaded_digit_with_every_member():
    run_id, _, _ = tiny_run("My tiny fusion")
    at = open_draw()
    picker = at.selectbox(key="draw_run")
    assert picker.value == run_id
    assert "My tiny fusion" in picker.format_func(run_id) and "50.00%" in picker.format_func(run_id)
    assert any("Draw a digit in the box" in i.value for i in at.info)

    at.file_uploader(key="draw_upload").set_value(("one.png", png_bytes(stroke()), "image/png"))
    at.run()
    assert not at.exception, at.exception
    titles = chart_titles(at)
    assert len(titles) == 4  # the fusion and three members
    assert titles[0].startswith("Fusion: ")
    assert sum(t.startswith("Member ") for t in titles) == 3
    assert at.get("image"), "the 28x28 image the model sees is shown"


def test_a_file_that_is_not_an_image_shows_the_reason():
    tiny_run()
    at = open_draw()
    at.file_uploader(key="draw_upload").set_value(("note.png", b"this is not a picture", "image/png"))
    at.run()
    assert not at.exception
    assert any("could not read this file as an image" in e.value for e in at.error)
    assert not at.get("plotly_chart")


def test_a_damaged_model_file_is_a_message_not_a_traceback():
    run_id, _, path = tiny_run("Damaged")
    with open(path, "wb") as f:
        f.write(b"no longer a model")
    at = open_draw()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert any(f"run_{run_id}.keras could not be loaded" in e for e in errors), errors
    assert not any("Traceback" in e or "/" in e.split("loaded")[0] for e in errors)
    assert not at.get("plotly_chart")


def test_newest_run_is_the_default_and_draw_run_id_preselects():
    older, _, _ = tiny_run("Older")
    newer, _, _ = tiny_run("Newer")
    at = open_draw()
    assert at.selectbox(key="draw_run").value == newer
    at.session_state["draw_run_id"] = older
    at.run()
    assert at.selectbox(key="draw_run").value == older


@pytest.mark.mnist
def test_quick_fusion_trains_and_is_then_used(monkeypatch):
    monkeypatch.setattr(fusion_core.data, "load_mnist", REAL_LOAD_MNIST)
    at = open_draw()
    at.button(key="quick_train").click().run()
    assert not at.exception, at.exception
    deadline = time.time() + 120
    while time.time() < deadline and not [s for s in at.selectbox if s.key == "draw_run"]:
        time.sleep(1)
        at.run()
    picker = at.selectbox(key="draw_run")
    run = RunStore().get_run(picker.value)
    assert run["kind"] == "quick" and run["status"] == "done"
    assert run["config"]["fusion"] == {**run["config"]["fusion"], "type": "parallel", "num_members": 3}
    assert run["results"]["fused_accuracy"] > 0.85
    assert any("quick fusion is ready" in s.value for s in at.success)


def test_a_huge_upload_is_refused_with_its_size_and_decoded_once(monkeypatch):
    from test_preprocess import zlib_png

    import fusion_core.preprocess

    real_load, calls = fusion_core.preprocess.load_image_bytes, []

    def counting_load(data: bytes):
        calls.append(len(data))
        return real_load(data)

    monkeypatch.setattr(fusion_core.preprocess, "load_image_bytes", counting_load)
    tiny_run()
    at = open_draw()
    at.file_uploader(key="draw_upload").set_value(("huge.png", zlib_png(10_000, 10_000), "image/png"))
    at.run()
    assert not at.exception, at.exception
    assert any("too large: 10,000 x 10,000 pixels" in e.value for e in at.error)
    at.run()  # a rerun (any click) reads the remembered result, it does not decode the file again
    assert any("too large" in e.value for e in at.error)
    assert len(calls) == 1

    at.file_uploader(key="draw_upload").set_value(("one.png", png_bytes(stroke()), "image/png"))
    at.run()
    at.run()
    assert not at.error and len(chart_titles(at)) == 4
    assert len(calls) == 2  # a new file is decoded once more
