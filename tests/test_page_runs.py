"""Runs: the table of a tmp store, filters, comparison, rename, delete, downloads and model upload.

AppTest drives the table's row selection through session state (`at.session_state["runs_table"]`),
and one run is managed through the "Run to manage" selectbox.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import keras
import pytest
from page_support import APP, PAGE_TIMEOUT
from streamlit.testing.v1 import AppTest

from fusion_core import paths
from fusion_core.config import make_config
from fusion_core.models import build_model
from fusion_core.store import RunStore
from ui.i18n import t

pytestmark = pytest.mark.usefixtures("app_home")


def val_points(accuracies: list[float]) -> list[dict]:
    return [
        {"split": "val", "series": name, "step": i + 1, "epoch": (i + 1) / 2, "loss": 1.0 - a, "accuracy": a}
        for i, a in enumerate(accuracies)
        for name in ("member_0", "fused")
    ]


@pytest.fixture
def runs():
    """Three runs: a finished parallel fusion with a model, a failed single net, a finished serial one."""
    store = RunStore()
    alpha_cfg = make_config("parallel", 2, "soft", hidden_layers=1, hidden_units=16, epochs=2)
    alpha = store.create_run(alpha_cfg.to_dict(), name="alpha parallel")
    store.append_metrics(alpha, val_points([0.80, 0.90, 0.93, 0.95]))
    path = paths.models_dir() / f"run_{alpha}.keras"
    build_model(alpha_cfg).save(path)
    store.set_model_path(alpha, path)
    store.finish(alpha, "done", results={"fused_accuracy": 0.95}, timings={"seconds_per_epoch": 1.5})

    beta = store.create_run(make_config("single", epochs=1).to_dict(), name="beta single")
    store.finish(beta, "failed", error="out of memory")

    gamma = store.create_run(make_config("serial", 3, "stacking", epochs=1).to_dict(), name="gamma serial")
    store.append_metrics(gamma, val_points([0.70, 0.85]))
    store.finish(gamma, "done", results={"fused_accuracy": 0.91})
    store.close()
    return {"alpha": alpha, "beta": beta, "gamma": gamma, "alpha_model": path}


def open_runs() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=PAGE_TIMEOUT).run()
    at.switch_page("pages/runs.py").run()
    assert not at.exception, at.exception
    return at


def table(at: AppTest):
    return at.dataframe(key="runs_table").value


def select_rows(at: AppTest, rows: list[int]) -> None:
    at.session_state["runs_table"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    at.run()
    assert not at.exception, at.exception


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


def test_empty_store_shows_a_friendly_message_and_a_way_to_train():
    at = open_runs()
    assert at.title[0].value == "Runs"
    assert "No runs yet" in at.info[0].value
    assert at.button(key="runs_go_train")
    assert at.file_uploader(key="runs_upload_model")


def test_table_lists_every_run_newest_first(runs):
    at = open_runs()
    frame = table(at)
    assert list(frame["id"]) == [runs["gamma"], runs["beta"], runs["alpha"]]
    alpha = frame[frame["id"] == runs["alpha"]].iloc[0]
    assert alpha["name"] == "alpha parallel" and alpha["status"] == "done"
    assert (alpha["type"], alpha["members"], alpha["rule"], alpha["arch"]) == ("parallel", 2, "soft", "1×16")
    # in percent, shown "95.00%" like every accuracy of the app (ui/run_names.format_percent)
    assert alpha["accuracy"] == pytest.approx(95.0) and alpha["sec_epoch"] == pytest.approx(1.5)
    assert alpha["epochs"] == 2 and alpha["train_size"] == 60_000 and alpha["activation"] == "relu"


def test_filters_by_status_type_and_name(runs):
    at = open_runs()
    at.multiselect(key="runs_filter_status").set_value(["done"]).run()
    assert set(table(at)["id"]) == {runs["alpha"], runs["gamma"]}
    at.multiselect(key="runs_filter_type").set_value(["serial"]).run()
    assert list(table(at)["id"]) == [runs["gamma"]]
    at.multiselect(key="runs_filter_type").set_value([]).run()
    at.text_input(key="runs_search").input("ALPHA").run()
    assert list(table(at)["id"]) == [runs["alpha"]]
    at.text_input(key="runs_search").input("nothing like this").run()
    assert not at.exception
    assert any("No run matches" in i.value for i in at.info)


def test_selected_runs_are_compared(runs):
    at = open_runs()
    assert not at.get("plotly_chart")
    select_rows(at, [0, 2])  # gamma and alpha
    titles = chart_titles(at)
    assert titles == ["Fused validation accuracy", "Fused validation loss", "Test accuracy of the fusion"]
    accuracy = json.loads(at.get("plotly_chart")[0].proto.spec)
    lines = {trace["name"]: trace["y"] for trace in accuracy["data"]}
    assert set(lines) == {f"gamma serial (#{runs['gamma']})", f"alpha parallel (#{runs['alpha']})"}
    assert lines[f"alpha parallel (#{runs['alpha']})"] == pytest.approx([0.80, 0.90, 0.93, 0.95])
    # The run to manage follows the table selection.
    assert at.selectbox(key="runs_manage").value == runs["alpha"]


def test_rename_through_the_run_to_manage(runs):
    at = open_runs()
    at.selectbox(key="runs_manage").set_value(runs["beta"]).run()
    assert at.text_input(key="runs_rename").value == "beta single"
    at.text_input(key="runs_rename").input("beta, renamed").run()
    at.button(key="runs_rename_btn").click().run()
    assert not at.exception, at.exception
    assert RunStore().get_run(runs["beta"])["name"] == "beta, renamed"
    assert "beta, renamed" in list(table(at)["name"])
    assert any("Renamed run" in s.value for s in at.success)


MARKDOWN_NAME = "![](http://example.invalid/x.png) **loud** :red[red] <b>bold</b> $x$"


def test_a_name_made_of_markdown_is_shown_as_text_in_the_rename_message(runs):
    from ui.text import safe

    at = open_runs()
    at.selectbox(key="runs_manage").set_value(runs["beta"]).run()
    at.text_input(key="runs_rename").input(MARKDOWN_NAME).run()
    at.button(key="runs_rename_btn").click().run()
    assert not at.exception, at.exception
    assert RunStore().get_run(runs["beta"])["name"] == MARKDOWN_NAME  # stored as typed
    (message,) = [s.value for s in at.success]
    assert safe(MARKDOWN_NAME) in message and "![](" not in message and "**loud**" not in message


def test_a_run_with_no_hold_out_is_compared_by_its_training_curve_and_says_so(runs):
    store = RunStore()
    config = make_config("single", epochs=1, validation_fraction=0.0)  # the article's code: no hold-out
    delta = store.create_run(config.to_dict(), name="delta article")
    train_points = [
        {
            "split": "train",
            "series": "fused",
            "step": 20 * (i + 1),
            "epoch": (i + 1) / 4,
            "loss": 1 - a,
            "accuracy": a,
        }
        for i, a in enumerate([0.6, 0.8, 0.9, 0.97])
    ]
    store.append_metrics(delta, train_points)
    store.finish(delta, "done", results={"fused_accuracy": 0.96})
    store.close()
    at = open_runs()
    select_rows(at, [0, 3])  # delta (newest) and alpha
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert [s["layout"]["title"]["text"] for s in specs[:2]] == [
        t("runs.curve_accuracy_with_training"),
        t("runs.curve_loss_with_training"),
    ]
    traces = {trace["name"]: trace for trace in specs[0]["data"]}
    training_name = t("runs.curve_training_name", name=f"delta article (#{delta})")
    assert set(traces) == {training_name, f"alpha parallel (#{runs['alpha']})"}
    training = traces[training_name]
    assert training["y"] == pytest.approx([0.6, 0.8, 0.9, 0.97])
    assert training["line"]["dash"] == "dot"
    assert t("runs.curve_training_hover") in training["hovertemplate"]
    alpha = traces[f"alpha parallel (#{runs['alpha']})"]
    assert alpha["line"]["dash"] == "solid" and t("runs.curve_training_hover") not in alpha["hovertemplate"]
    loss = {trace["name"]: trace["y"] for trace in specs[1]["data"]}
    assert loss[training_name] == pytest.approx([0.4, 0.2, 0.1, 0.03])
    assert any(c.value == t("runs.curve_training_note") for c in at.caption)
    # Runs with validation points alone keep the validation titles and no note.
    select_rows(at, [3])
    assert chart_titles(at)[:2] == [t("runs.curve_accuracy"), t("runs.curve_loss")]
    assert not any(c.value == t("runs.curve_training_note") for c in at.caption)


def test_a_name_made_of_html_is_plain_text_in_the_comparison_chart(runs):
    RunStore().rename(runs["alpha"], "<a href='http://example.invalid'>alpha</a>")
    at = open_runs()
    select_rows(at, [2])
    names = [trace["name"] for trace in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]]
    assert names == [f"&lt;a href='http://example.invalid'&gt;alpha&lt;/a&gt; (#{runs['alpha']})"]


def test_delete_needs_confirmation_and_removes_the_model(runs):
    at = open_runs()
    at.selectbox(key="runs_manage").set_value(runs["alpha"]).run()
    assert at.button(key="runs_delete_btn").disabled
    at.checkbox(key="runs_delete_confirm").check().run()
    assert not at.button(key="runs_delete_btn").disabled
    at.button(key="runs_delete_btn").click().run()
    assert not at.exception, at.exception
    assert RunStore().get_run(runs["alpha"]) is None
    assert not runs["alpha_model"].exists()
    assert runs["alpha"] not in list(table(at)["id"])
    assert any("Deleted run" in s.value for s in at.success)
    # The next run's confirmation starts unticked.
    assert not at.checkbox(key="runs_delete_confirm").value


def test_downloads_and_use_on_draw(runs):
    at = open_runs()
    at.selectbox(key="runs_manage").set_value(runs["alpha"]).run()
    keys = {b.key for b in at.get("download_button")}
    assert {"runs_dl_csv", "runs_dl_model"} <= keys
    csv_text = RunStore().export_metrics_csv(runs["alpha"])
    assert csv_text.startswith("seq,split,series")
    at.button(key="runs_use_draw").click().run()
    assert not at.exception, at.exception
    assert at.session_state["draw_run_id"] == runs["alpha"]
    assert at.selectbox(key="draw_run").value == runs["alpha"]  # now on Draw a digit


def test_a_run_without_a_model_offers_only_the_csv(runs):
    at = open_runs()
    at.selectbox(key="runs_manage").set_value(runs["gamma"]).run()
    keys = {b.key for b in at.get("download_button")}
    assert keys == {"runs_dl_csv"}
    assert not [b for b in at.button if b.key == "runs_use_draw"]


def keras_bytes(model) -> bytes:
    path = paths.home_dir() / "to_upload.keras"
    model.save(path)
    data = path.read_bytes()
    path.unlink()
    return data


def test_uploading_a_fusion_lab_model_registers_a_usable_run():
    config = make_config("parallel", 3, "weighted", hidden_layers=2, hidden_units=24, activation="tanh")
    at = open_runs()
    at.file_uploader(key="runs_upload_model").set_value(
        ("my_fusion.keras", keras_bytes(build_model(config)), "application/octet-stream")
    )
    at.run()
    assert not at.exception, at.exception
    [run] = RunStore().list_runs()
    assert run["kind"] == "upload" and run["status"] == "done" and run["name"] == "my_fusion"
    assert Path(run["model_path"]).exists()
    assert run["config"]["fusion"] == config.to_dict()["fusion"]
    assert run["config"]["member"] == config.to_dict()["member"]
    assert 0.0 <= run["results"]["fused_accuracy"] <= 1.0  # scored on the (fake) test set
    assert any("Added the uploaded model as run" in s.value for s in at.success)
    assert list(table(at)["id"]) == [run["id"]]


def test_uploading_another_keras_model_is_refused():
    inputs = keras.Input(shape=(784,))
    plain = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(inputs))
    at = open_runs()
    at.file_uploader(key="runs_upload_model").set_value(
        ("plain.keras", keras_bytes(plain), "application/zip")
    )
    at.run()
    assert not at.exception, at.exception
    assert any("not a Fusion Lab model" in e.value for e in at.error)
    assert RunStore().list_runs() == []
    assert not list(paths.models_dir().glob("*.keras"))

    at.file_uploader(key="runs_upload_model").set_value(("junk.keras", io.BytesIO(b"junk").read(), "x"))
    at.run()
    assert any("does not load as a Keras model" in e.value for e in at.error)


@pytest.mark.parametrize(
    "fusion_type, members, rule",
    [("single", 1, "none"), ("parallel", 2, "soft"), ("parallel", 3, "hard"), ("parallel", 2, "feature"),
     ("serial", 2, "cascade"), ("serial", 3, "stacking"), ("hybrid", 2, "meta")],
)  # fmt: skip
def test_infer_config_recovers_every_fusion(fusion_type, members, rule):
    from fusion_core.uploads import infer_config

    config = make_config(
        fusion_type, members, rule, hidden_layers=2, hidden_units=[32, 16], dropout_rate=0.25
    )
    if fusion_type == "hybrid":
        config.fusion.meta_units = 40
    inferred = infer_config(build_model(config))
    assert inferred.fusion == config.fusion
    assert inferred.member == config.member and inferred.members is None


# -- selection is by run id ----------------------------------------------------------------------
def test_after_a_rename_every_action_acts_on_the_run_the_box_shows(runs):
    at = open_runs()
    at.selectbox(key="runs_manage").set_value(runs["beta"]).run()
    at.text_input(key="runs_rename").input("beta, renamed").run()
    at.button(key="runs_rename_btn").click().run()
    assert not at.exception, at.exception
    box = at.selectbox(key="runs_manage")
    assert box.value == runs["beta"]
    # The browser still holds the old label, which no option has any more; the page must send
    # the box its value again, or the browser's next message resets it to the newest run.
    assert box.proto.set_value and box.proto.raw_value == f"#{runs['beta']} · beta, renamed"
    assert at.text_input(key="runs_rename").value == "beta, renamed"
    at.text_input(key="runs_rename").input("beta, twice").run()  # Rename acts on beta again
    at.button(key="runs_rename_btn").click().run()
    store = RunStore()
    assert store.get_run(runs["beta"])["name"] == "beta, twice"
    assert store.get_run(runs["gamma"])["name"] == "gamma serial"
    at.checkbox(key="runs_delete_confirm").check().run()
    assert at.selectbox(key="runs_manage").value == runs["beta"]
    at.button(key="runs_delete_btn").click().run()
    assert not at.exception, at.exception
    assert store.get_run(runs["beta"]) is None
    assert store.get_run(runs["gamma"]) is not None and store.get_run(runs["alpha"]) is not None


def test_a_model_that_loads_but_does_not_fit_is_refused_once_and_leaves_nothing():
    model = build_model(make_config("parallel", 2, "soft", hidden_layers=1, hidden_units=16))
    as_list = keras.Model(model.inputs, [model.output[k] for k in ("member_0", "member_1", "fused")])
    at = open_runs()
    at.file_uploader(key="runs_upload_model").set_value(("list.keras", keras_bytes(as_list), "x"))
    for _ in range(3):  # reruns never register it again
        at.run()
        assert not at.exception, at.exception
    [message] = [e.value for e in at.error]
    assert "list outputs" in message and "/tmp" not in message and "filepath" not in message
    assert RunStore().list_runs() == []
    assert list(paths.models_dir().iterdir()) == []


def test_one_upload_is_one_run_however_many_reruns_and_its_training_is_unknown():
    config = make_config("parallel", 2, "soft", hidden_layers=1, hidden_units=16)
    at = open_runs()
    at.file_uploader(key="runs_upload_model").set_value(("up.keras", keras_bytes(build_model(config)), "x"))
    for _ in range(3):
        at.run()
        assert not at.exception, at.exception
    [run] = RunStore().list_runs()
    row = table(at).iloc[0]
    assert row["kind"] == "Upload" and row["epochs"] is None and row["train_size"] is None
    assert any("is unknown" in c.value for c in at.caption)


def test_a_tampered_model_path_offers_no_download(runs, tmp_path):
    secret = tmp_path.parent / "secret.txt"
    secret.write_text("server secret")
    store = RunStore()
    store.set_model_path(runs["gamma"], secret)
    at = open_runs()
    at.selectbox(key="runs_manage").set_value(runs["gamma"]).run()
    assert {b.key for b in at.get("download_button")} == {"runs_dl_csv"}
    assert secret.read_text() == "server secret"


def test_a_damaged_row_is_reported_and_the_others_shown(runs):
    import sqlite3

    with sqlite3.connect(RunStore().path) as conn:
        conn.execute(
            "UPDATE runs SET results_json = ? WHERE id = ?", ('{"fused_accuracy": "x"}', runs["beta"])
        )
    at = open_runs()
    assert set(table(at)["id"]) == {runs["alpha"], runs["gamma"]}
    assert any(f"Run {runs['beta']} cannot be read" in w.value for w in at.warning)


def test_an_unusable_store_is_an_error_message_not_a_traceback(app_home):
    (app_home / "runs.sqlite").write_bytes(b"\x00garbage" * 500)
    at = AppTest.from_file(APP, default_timeout=PAGE_TIMEOUT).run()
    at.switch_page("pages/runs.py").run()
    assert not at.exception, at.exception
    assert any("not a readable Fusion Lab run store" in e.value for e in at.error)


def test_a_name_longer_than_the_limit_never_reaches_the_store(runs):
    at = open_runs()
    at.selectbox(key="runs_manage").set_value(runs["beta"]).run()
    assert at.text_input(key="runs_rename").max_chars == 100
    at.session_state["runs_rename"] = "n" * 300  # past max_chars, as a crafted request could send
    at.run()
    at.button(key="runs_rename_btn").click().run()
    assert not at.exception, at.exception
    name = RunStore().get_run(runs["beta"])["name"]
    assert name in ("beta single", "n" * 100)  # refused with a message, or cut by the box


def test_after_a_filter_hides_the_managed_run_the_buttons_act_on_the_run_shown(runs):
    at = open_runs()
    at.selectbox(key="runs_manage").set_value(runs["beta"]).run()
    at.text_input(key="runs_search").input("gamma").run()
    assert at.selectbox(key="runs_manage").value == runs["gamma"]
    at.checkbox(key="runs_delete_confirm").check().run()
    at.button(key="runs_delete_btn").click().run()
    assert not at.exception, at.exception
    store = RunStore()
    assert store.get_run(runs["gamma"]) is None and store.get_run(runs["beta"]) is not None
