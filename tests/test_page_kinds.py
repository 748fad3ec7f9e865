"""Member kinds on the pages: the mixed preset on Learn and Train, the kind choice, kinds on Draw."""

from __future__ import annotations

import json

import numpy as np
import pytest
from page_support import APP, PAGE_TIMEOUT, open_page
from streamlit.testing.v1 import AppTest

from fusion_core.config import make_config
from fusion_core.data import synthetic_digits
from ui.presets import PRESETS

SYNTHETIC = synthetic_digits(200)
pytestmark = pytest.mark.usefixtures("app_home")


def dot(at: AppTest) -> str:
    return at.get("graphviz_chart")[0].proto.spec


def test_the_mixed_preset_from_learn_shows_three_kinds_on_train():
    at = AppTest.from_file(APP, default_timeout=PAGE_TIMEOUT).run()  # Learn is the default page
    at.button(key="learn_mixed").click().run()
    assert not at.exception, at.exception
    assert at.session_state["preset"] == PRESETS["mixed"]
    assert at.title[0].value == "Train"
    diagram = dot(at)
    for title in ("Member 1 · MLP", "Member 2 · CNN", "Member 3 · LSTM"):
        assert title in diagram
    assert "Conv 5×5, 16 relu + pool 2×2" in diagram and "LSTM 64 over the 28 rows" in diagram
    assert [at.selectbox(key=f"train_m{i}_kind").value for i in range(3)] == ["mlp", "cnn", "lstm"]
    assert any("parallel x3 (soft), mlp+cnn+lstm" in c.value for c in at.caption)
    latex = " ".join(e.value for e in at.latex)
    assert r"K_{1}^{(2)} &\in \mathbb{R}^{5\times 5\times 1\times 16}" in latex and r"\odot" in latex
    assert "909,534" in [m.value for m in at.metric]  # 669,706 + 215,370 + 24,458, the vote has none


def test_choosing_a_kind_shows_its_own_settings_and_diagram():
    at = open_page("train")
    assert at.selectbox(key="train_kind").value == "mlp"
    assert "train_cnn_filters" not in [w.key for w in at.select_slider]
    at.selectbox(key="train_kind").set_value("cnn").run()
    assert at.select_slider(key="train_cnn_filters").value == 16
    assert at.slider(key="train_cnn_hidden_layers").max == 2
    at.select_slider(key="train_cnn_filters").set_value(8).run()
    assert not at.exception, at.exception
    assert "Conv 5×5, 16 relu" in dot(at)  # the second convolution has twice the filters
    assert "Network · CNN" in dot(at)
    at.selectbox(key="train_kind").set_value("lstm").run()
    assert at.select_slider(key="train_lstm_hidden_units").value == 64
    assert "LSTM 64 over the 28 rows" in dot(at)
    at.selectbox(key="train_kind").set_value("mlp").run()  # the MLP's own settings come back
    assert at.slider(key="train_hidden_layers").value == 2 and "Network · " not in dot(at)


def test_a_mixed_preset_in_the_url_and_a_kinds_override():
    at = open_page("train", {"preset": "quick", "kinds": "cnn,lstm,mlp"})
    assert any("parallel x3 (soft), cnn+lstm+mlp" in c.value for c in at.caption)


def test_draw_labels_each_members_bars_with_its_kind():
    from ui.predict_ui import member_kinds

    mixed = {"config": make_config("parallel", kinds="mlp,cnn,lstm").to_dict()}
    assert member_kinds(mixed) == ["MLP", "CNN", "LSTM"]
    uploaded = {"config": {k: v for k, v in mixed["config"].items() if k != "training"}}
    assert member_kinds(uploaded) == ["MLP", "CNN", "LSTM"]
    assert member_kinds({"config": {"member": {"kind": "gru"}}}) == [] and member_kinds(None) == ["MLP"]


def test_draw_page_titles_member_charts_with_their_kinds(monkeypatch):
    """The per-member bars on a real Draw page, for a mixed run (predictions from a stub model file)."""
    from ui import predict_ui

    pred = predict_ui.DrawPrediction(
        image=np.zeros((28, 28), "float32"),
        members=[np.eye(10)[3], np.eye(10)[3], np.eye(10)[5]],
        fused=np.eye(10)[3],
    )
    at = AppTest.from_function(_show, args=(pred,), default_timeout=PAGE_TIMEOUT).run()
    titles = [json.loads(el.proto.spec)["layout"]["title"]["text"] for el in at.get("plotly_chart")]
    assert titles == ["Member 1 · MLP", "Member 2 · CNN", "Member 3 says 5 · LSTM"]


def _show(pred) -> None:
    from ui.predict_ui import show_members

    show_members(pred, key="t", kinds=["MLP", "CNN", "LSTM"])


def test_one_click_on_train_turns_the_controls_into_the_mixed_fusion():
    at = open_page("train")
    at.slider(key="train_epochs").set_value(7).run()
    at.button(key="train_preset_mixed").click().run()
    assert not at.exception, at.exception
    diagram = dot(at)
    assert all(t in diagram for t in ("Member 1 · MLP", "Member 2 · CNN", "Member 3 · LSTM"))
    assert at.slider(key="train_epochs").value == 2  # the preset's, not the earlier 7
    assert any("parallel x3 (soft), mlp+cnn+lstm · 2 epochs on 10,000 images" in c.value for c in at.caption)


def test_the_runs_table_names_each_members_kind():
    from ui.runs_ui import _run_row

    def row(config) -> str:
        run = {"id": 1, "name": "r", "status": "done", "kind": "train", "config": config.to_dict()}
        return _run_row(run)["arch"]

    assert row(make_config("parallel", kinds="mlp,cnn,lstm")) == "mlp+cnn+lstm"
    assert row(make_config("single", kinds="cnn")) == "cnn 1×128" and row(make_config()) == "2×512"


def test_the_results_table_names_each_members_kind_when_the_kinds_differ():
    from ui.charts import results_table

    scores = {"test_accuracy": 0.9, "test_loss": 0.3, "params": 10}
    series = {name: dict(scores) for name in ("member_0", "member_1", "fused")}
    results = {"series": series, "params_total": 20}
    table = results_table(results, kinds=["MLP", "CNN"])
    assert table["Kind"].tolist() == ["MLP", "CNN", ""]
    assert "Kind" not in results_table(results, kinds=["MLP", "MLP"]).columns
    assert "Kind" not in results_table(results).columns
