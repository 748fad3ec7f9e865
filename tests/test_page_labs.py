"""The four experiment labs (AppTest) and the chart and table builders they draw with (unit tests).

The pages never touch the real MNIST: `fusion_core.data.load_mnist` (read by the page through
`get_mnist` and by the test worker's default loader) and `fusion_core.jobs.default_loader` are
replaced by small synthetic digits, and FUSION_LAB_LAB_OVERRIDES shrinks the sweep's networks.
"""

from __future__ import annotations

import json

import pytest
import streamlit as st
from page_support import figure_points, open_page, plotly_specs, wait_for

import fusion_core.data
import fusion_core.experiments
import fusion_core.jobs
from fusion_core import paths
from fusion_core.config import make_config
from fusion_core.data import DataError, synthetic_digits
from fusion_core.experiments import COST_AXES, mark_pareto, summarise_sweep
from fusion_core.jobs import active_runs
from fusion_core.models import build_model
from fusion_core.store import RunStore
from ui.i18n import t
from ui.labs_charts import (
    cost_figure,
    cost_table,
    gap_figure,
    gap_table,
    robustness_figure,
    sweep_csv,
    sweep_figure,
    sweep_table,
    variant_code,
    variant_colours,
    variant_label,
)
from ui.state import get_store

SYNTHETIC = synthetic_digits(1200)
PAGES = {
    "data_size": ("Data size", "sweep_run"),
    "overfitting": ("Overfitting", "overfit_train"),
    "robustness": ("Robustness", "robust_measure"),
    "cost": ("Cost of fusion", "cost_preset"),
}


@pytest.fixture
def lab(app_home, monkeypatch):
    """The page-test home and synthetic digits, tiny sweep networks, and no cached data."""
    monkeypatch.setenv("FUSION_LAB_LAB_OVERRIDES", '{"hidden_layers": 1, "hidden_units": 16}')
    st.cache_data.clear()
    yield app_home
    st.cache_data.clear()


def finished_run(
    store: RunStore, config, *, accuracy: float, params: int, seconds: float, kind="train"
) -> int:
    """A done run with a saved (untrained) model and the results and timings the labs read."""
    run_id = store.create_run(config.to_dict(), name=config.describe(), kind=kind)
    path = paths.models_dir() / f"run_{run_id}.keras"
    build_model(config).save(path)
    store.set_model_path(run_id, path)
    results = {"fused_accuracy": accuracy, "params_total": params, "latency_ms": params / 1e5,
               "model_bytes": path.stat().st_size, "n_train": config.training.train_size}  # fmt: skip
    store.finish(run_id, "done", results=results, timings={"seconds_per_epoch": seconds})
    return run_id


# -- every page ------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_its_explanation_and_empty_charts(lab, page):
    title, button = PAGES[page]
    at = open_page(page)
    assert [x.value for x in at.title] == [title]
    assert at.markdown[0].value.strip()  # the explanation under the title
    assert any(s.value == t("labs.look_for") for s in at.subheader)
    assert at.button(key=button)
    assert plotly_specs(at), "charts are drawn on page load, empty"
    assert not at.error


@pytest.mark.parametrize("page", PAGES)
def test_missing_mnist_is_an_error_message_not_a_traceback(lab, monkeypatch, page):
    def refuse(*args, **kwargs):
        raise DataError("Could not load MNIST. To fix: run `make setup`.")

    monkeypatch.setattr(fusion_core.data, "load_mnist", refuse)
    at = open_page(page)
    assert any("make setup" in e.value for e in at.error)
    assert at.button(key=PAGES[page][1]).disabled


# -- data size -------------------------------------------------------------------------------------


def test_a_tiny_sweep_runs_in_the_background_then_is_reused(lab):
    at = open_page("data_size")
    at.multiselect(key="size_configs").set_value(["single"])
    at.multiselect(key="size_sizes").set_value([100, 250])
    at.slider(key="size_epochs").set_value(1)
    at.run()
    assert any("2 points to train, 0 already in the store" in c.value for c in at.caption)
    at.button(key="sweep_run").click().run()
    assert not at.exception, at.exception
    group = at.query_params["group"]
    assert group.startswith("sweep-") and at.query_params["sizes"] == "100,250"

    wait_for(at, lambda a: any("2 of 2 points done" in c.value for c in a.caption))
    spec = plotly_specs(at)[0]
    assert figure_points(spec) == 4 and '"type":"log"' in spec  # 2 sizes x (test, training)
    table = at.dataframe[-1].value
    assert list(table[t("labs.col.images")]) == [100, 250]
    assert table[t("labs.col.train")].notna().all() and table[t("labs.col.test")].notna().all()
    runs = get_store().list_runs(group_id=group)
    assert (
        len(runs) == 2 and {r["status"] for r in runs} == {"done"} and {r["kind"] for r in runs} == {"sweep"}
    )
    assert {r["config"]["member"]["hidden_units"] for r in runs} == {16}  # the override reached the runs

    # a refresh (same URL, new session) shows the same sweep
    again = open_page("data_size", dict(at.query_params))
    assert figure_points(plotly_specs(again)[0]) == 4
    assert again.multiselect(key="size_sizes").value == [100, 250]

    # the same sweep again trains nothing: both points are reused
    at.button(key="sweep_run").click().run()
    assert not at.exception, at.exception
    assert at.query_params["group"] != group
    assert len(get_store().list_runs()) == 2
    assert any("2 of 2 points done" in c.value for c in at.caption)
    status = at.dataframe[0].value[t("labs.col.status")]
    assert list(status) == [t("labs.status.reused")] * 2


def test_stop_ends_every_point_of_the_sweep(lab, monkeypatch):
    monkeypatch.setenv(
        "FUSION_LAB_LAB_OVERRIDES", '{"hidden_layers": 1, "hidden_units": 16, "batch_size": 8}'
    )
    at = open_page("data_size")
    at.multiselect(key="size_configs").set_value(["single"])
    at.multiselect(key="size_sizes").set_value([100, 250, 500])
    at.slider(key="size_epochs").set_value(30)
    at.run()
    at.button(key="sweep_run").click().run()
    assert any(b.key == "sweep_stop" for b in at.button)  # 30 epochs in batches of 8: still training
    at.button(key="sweep_stop").click().run()
    wait_for(at, lambda a: any("did not finish" in c.value for c in a.caption))
    runs = get_store().list_runs(group_id=at.query_params["group"])
    assert len(runs) == 3 and {r["status"] for r in runs} <= {"stopped", "done"}
    assert sum(r["status"] == "stopped" for r in runs) >= 2  # the one training and those waiting
    assert not active_runs(get_store())


def test_a_tampered_url_cannot_break_the_page(lab):
    query = {"group": "sweep-x", "configs": "single,bogus", "sizes": "100,3000", "seeds": "9", "epochs": "x"}
    at = open_page("data_size", query)
    assert at.multiselect(key="size_configs").value == ["single", "parallel"]  # unreadable plan: defaults
    query["epochs"] = "99"
    at = open_page("data_size", query)
    assert at.multiselect(key="size_configs").value == ["single"]
    assert at.multiselect(key="size_sizes").value == [100]
    assert at.slider(key="size_seeds").value == 5 and at.slider(key="size_epochs").value == 30
    assert not at.error


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{hidden_units: 16", "must be a JSON object"),
        ("[16]", "must be a JSON object"),
        ('{"epochs": 3, "seed": 1}', "may not set epochs, seed: each sweep point sets"),
        ('{"hidden_units": "many"}', "hidden_units must be a whole number from 8 to 2048"),
        ('{"colour": "red"}', "colour must be a MemberConfig, TrainConfig or FusionConfig field"),
        ("[" * 100_000, "must be a JSON object"),
    ],
    ids=["not-json", "not-an-object", "colliding-keys", "bad-value", "unknown-key", "too-deep"],
)
def test_an_unusable_override_is_a_readable_message_and_the_defaults_are_used(lab, monkeypatch, raw, reason):
    monkeypatch.setenv("FUSION_LAB_LAB_OVERRIDES", raw)
    at = open_page("data_size")
    assert not at.exception, at.exception
    (warning,) = [w.value.replace("\\", "") for w in at.warning if "FUSION" in w.value]
    assert warning.startswith("The labs use their default settings: FUSION_LAB_LAB_OVERRIDES")
    assert reason in warning
    assert not at.button(key="sweep_run").disabled  # the sweep can run, with the default networks


def test_the_one_minute_sweep_preset_fills_a_plan_estimated_under_a_minute(lab, monkeypatch):
    monkeypatch.delenv("FUSION_LAB_LAB_OVERRIDES")  # the lab's real networks, as a class would run them
    at = open_page("data_size")
    default = next(c.value for c in at.caption if "points to train" in c.value)
    assert default.startswith("16 points to train") and "about" in default  # minutes, not seconds
    at.button(key="size_preset_minute").click().run()
    assert not at.exception, at.exception
    assert at.multiselect(key="size_configs").value == ["single", "parallel"]
    assert at.multiselect(key="size_sizes").value == [500, 2_000]
    assert at.slider(key="size_seeds").value == 2 and at.slider(key="size_epochs").value == 2
    estimate = next(c.value for c in at.caption if "points to train" in c.value)
    assert estimate.startswith("8 points to train") and "under a minute" in estimate


# -- overfitting -----------------------------------------------------------------------------------


def test_overfitting_refuses_a_run_beyond_the_visitors_limit(lab):
    from fusion_core.limits import MAX_ACTIVE_PER_VISITOR

    store = get_store()
    mine = [store.create_run(make_config().to_dict()) for _ in range(MAX_ACTIVE_PER_VISITOR)]
    at = open_page("overfitting")
    at.session_state["visitor_run_ids"] = mine
    at.run()
    refusal = f"You already have {MAX_ACTIVE_PER_VISITOR} runs queued or running"
    assert any(refusal in e.value for e in at.error)
    assert at.button(key="overfit_train").disabled


def test_overfit_run_trains_live_then_shows_in_the_comparison(lab):
    at = open_page("overfitting")
    assert at.slider(key="overfit_epochs").value == 30
    at.toggle(key="overfit_dropout").set_value(True)
    at.slider(key="overfit_epochs").set_value(1)
    at.run()
    assert any("dropout (1 epochs)" in c.value for c in at.caption)
    at.button(key="overfit_train").click().run()
    run_id = at.session_state["overfit_run_id"]
    assert at.query_params["run"] == str(run_id)
    wait_for(at, lambda a: any(s.value == t("live.done") for s in a.success))
    assert get_store().get_run(run_id)["kind"] == "overfit"
    gap = next(s for s in plotly_specs(at) if t("labs.gap.title") in s)
    assert figure_points(gap) == 1 and "dropout (1 epochs)" in gap  # one bar
    assert list(at.dataframe[0].value[t("labs.col.variant")]) == ["dropout (1 epochs)"]

    at.button(key="overfit_train").click().run()  # the same network again: shown, not retrained
    assert any(str(run_id) in i.value for i in at.info)
    assert len(get_store().list_runs()) == 1


def test_overfit_initializer_choice_reaches_the_submitted_config(lab):
    at = open_page("overfitting")
    init = at.radio(key="overfit_init")
    assert init.value == "glorot_uniform"
    assert "memorise its 1,000 training images" in init.help
    init.set_value("normal")
    at.slider(key="overfit_epochs").set_value(1)
    at.run()
    assert any("N(0,1) start (1 epochs)" in c.value for c in at.caption)
    at.button(key="overfit_train").click().run()
    run_id = at.session_state["overfit_run_id"]
    wait_for(at, lambda a: any(s.value == t("live.done") for s in a.success))
    assert get_store().get_run(run_id)["config"]["member"]["initializer"] == "normal"


# -- robustness ------------------------------------------------------------------------------------


def test_robustness_grid_and_curves_for_the_newest_single_and_fusion(lab):
    store = get_store()
    old = finished_run(
        store, make_config("single", hidden_layers=1, hidden_units=8), accuracy=0.5, params=1, seconds=1
    )
    tiny = {"hidden_layers": 1, "hidden_units": 16}
    single = finished_run(store, make_config("single", **tiny), accuracy=0.6, params=1, seconds=1)
    fusion = finished_run(
        store, make_config("parallel", 2, "soft", **tiny), accuracy=0.7, params=1, seconds=1
    )
    at = open_page("robustness")
    assert at.multiselect(key="robust_runs").value == [single, fusion]
    assert len(at.multiselect(key="robust_runs").options) == 3 and old not in (single, fusion)
    # the first paint: the controls and a progress bar; the grid follows in the fragment's next run
    assert not at.image and "Loading the models" in at.get("progress")[0].text
    at.run()  # AppTest has no browser to run the fragment on its timer; a rerun draws it at once
    assert len(at.image) == 10  # one digit of each class
    assert not at.get("progress")
    assert any(":green[" in m.value or ":red[" in m.value for m in at.markdown)
    assert figure_points(plotly_specs(at)[-1]) == 0

    at.selectbox(key="robust_kind").set_value("rotate").run()
    at.button(key="robust_measure").click().run()
    assert not at.exception, at.exception
    spec = plotly_specs(at)[-1]
    assert figure_points(spec) == 14  # 7 strengths x 2 fused curves
    at.checkbox(key="robust_members").check().run()
    assert plotly_specs(at)[-1].count('"dash":"dot"') == 2  # the fusion's two members; none for a single net


def test_robustness_with_a_damaged_model_file_says_which_file(lab):
    store = get_store()
    run_id = finished_run(
        store, make_config("single", hidden_layers=1, hidden_units=8), accuracy=0.5, params=1, seconds=1
    )
    with open(store.get_run(run_id)["model_path"], "wb") as f:
        f.write(b"no longer a model")
    at = open_page("robustness").run()  # the grid follows the first paint
    assert not at.exception, at.exception
    # the file named, as text (Markdown-escaped: ui.text.safe)
    assert any(f"run\\_{run_id}\\.keras could not be loaded" in e.value for e in at.error)
    at.button(key="robust_measure").click().run()
    assert not at.exception, at.exception
    assert figure_points(plotly_specs(at)[-1]) == 0  # nothing measured, the chart still drawn


def test_robustness_with_an_unreadable_model_says_so_and_keeps_the_page(lab):
    store = get_store()
    tiny = {"hidden_layers": 1, "hidden_units": 16}
    good = finished_run(store, make_config("single", **tiny), accuracy=0.6, params=1, seconds=1)
    fusion = make_config("parallel", 2, "soft", **tiny)
    broken = finished_run(store, fusion, accuracy=0.7, params=1, seconds=1)
    store.rename(broken, "![](http://example.invalid/x.png) broken")
    paths.models_dir().joinpath(f"run_{broken}.keras").write_bytes(b"not a keras file")
    at = open_page("robustness").run()  # the grid follows the first paint
    assert not at.exception, at.exception
    assert at.multiselect(key="robust_runs").value == [good, broken]
    assert any("A chosen model cannot be used" in e.value for e in at.error)
    at.selectbox(key="robust_kind").set_value("rotate").run()
    at.button(key="robust_measure").click().run()
    assert not at.exception, at.exception
    (error,) = [e.value for e in at.error if "The model of" in e.value]
    assert error.startswith("The model of \\!\\[\\]\\(http") and "Retrain it or pick another run" in error
    assert figure_points(plotly_specs(at)[-1]) == 7  # the readable run's curve is still drawn
    shown = " ".join(m.value for m in at.markdown)
    assert "![](" not in shown and "\\!\\[\\]\\(http" in shown  # the name is shown as text


# -- cost ------------------------------------------------------------------------------------------


def test_cost_page_marks_the_pareto_front_of_the_chosen_runs(lab):
    store = get_store()
    small = make_config("single", hidden_layers=1, hidden_units=8)
    finished_run(store, small, accuracy=0.90, params=1_000, seconds=1.0)
    finished_run(store, make_config("parallel", 2, "soft", hidden_layers=1, hidden_units=8), accuracy=0.93,
                 params=2_000, seconds=2.0)  # fmt: skip
    finished_run(store, make_config("parallel", 3, "soft", hidden_layers=1, hidden_units=8), accuracy=0.92,
                 params=3_000, seconds=3.0)  # fmt: skip
    at = open_page("cost")
    assert at.radio(key="cost_scope").value == "all"  # no preset run stored yet
    assert any("10 points to train, 0 already in the store" in c.value for c in at.caption)
    table = at.dataframe[-1].value
    assert len(table) == 3
    assert list(table[t("labs.cost.col.pareto")]) == [False, True, True]  # newest first; 3 members dominated
    assert cost_markers(plotly_specs(at)[0]) == 3  # one marker per run

    at.radio(key="cost_scope").set_value("pick").run()
    at.multiselect(key="cost_runs").set_value([1]).run()
    assert len(at.dataframe[-1].value) == 1
    at.selectbox(key="cost_axis").set_value("seconds_per_epoch").run()
    assert "seconds per epoch" in plotly_specs(at)[0]


def test_cost_preset_trains_in_the_background_then_is_reused(lab, monkeypatch):
    tiny = {"hidden_layers": 1, "hidden_units": 8, "epochs": 1, "train_size": 200}
    preset = (make_config("single", **tiny), make_config("parallel", 2, "soft", **tiny))
    monkeypatch.setattr(fusion_core.experiments, "COST_PRESET", preset)
    at = open_page("cost")
    assert any("2 points to train" in c.value for c in at.caption)
    at.button(key="cost_preset").click().run()
    assert at.query_params["group"].startswith("cost-")
    wait_for(at, lambda a: any("2 of 2 points done" in c.value for c in a.caption))
    assert len(at.dataframe[-1].value) == 2 and cost_markers(plotly_specs(at)[0]) == 2
    assert {r["kind"] for r in get_store().list_runs()} == {"cost"}
    at.button(key="cost_preset").click().run()
    assert len(get_store().list_runs()) == 2
    assert list(at.dataframe[0].value[t("labs.col.status")]) == [t("labs.status.reused")] * 2


# -- the builders ----------------------------------------------------------------------------------


def sweep_point(name, size, seed, test, train):
    return {"config_name": name, "train_size": size, "seed": seed, "status": "done", "test_accuracy": test,
            "train_accuracy": train}  # fmt: skip


def test_sweep_figure_has_a_log_axis_solid_test_dashed_training_and_error_bars():
    rows = [sweep_point(name, size, seed, 0.8 + seed / 100, 0.99) for name in ("single", "parallel")
            for size in (250, 1000) for seed in (0, 1)]  # fmt: skip
    fig = sweep_figure(summarise_sweep(rows))
    assert fig.layout.xaxis.type == "log"
    assert len(fig.data) == 4
    for name in ("single", "parallel"):
        test, train = [tr for tr in fig.data if tr.legendgroup == name]
        assert test.line.dash == "solid" and train.line.dash == "dash"
        assert test.line.color == train.line.color
        assert list(test.x) == [250, 1000]
        assert test.error_y.visible and test.error_y.array[0] == pytest.approx(0.00707, abs=1e-4)
    assert figure_points(fig) == 8 and fig.layout.title.text == t("labs.sweep.title")


def test_empty_sweep_figure_is_labelled_and_the_table_has_its_columns():
    fig = sweep_figure([])
    assert not fig.data and fig.layout.xaxis.type == "log" and figure_points(fig) == 0
    assert fig.layout.annotations[0].text == t("labs.sweep.empty")
    table = sweep_table(summarise_sweep([sweep_point("single", 500, 0, 0.9, 1.0)]))
    assert table.iloc[0][t("labs.col.gap")] == pytest.approx(10.0)
    assert table.iloc[0][t("labs.col.config")] == t("labs.config_short.single")
    assert table.iloc[0][t("labs.col.test")] == "90.0"  # one seed: no spread to show
    two_seeds = summarise_sweep(
        [sweep_point("single", 500, 0, 0.9, 1.0), sweep_point("single", 500, 1, 0.8, 1.0)]
    )
    assert sweep_table(two_seeds).iloc[0][t("labs.col.test")] == "85.0 ± 7.1"
    header, row = sweep_csv(two_seeds).splitlines()
    assert header.startswith("config_name,train_size,seeds,test_accuracy_mean,test_accuracy_std")
    assert [float(v) for v in row.split(",")[3:5]] == pytest.approx([0.85, 0.0707], abs=1e-4)
    assert list(sweep_table([]).columns) == list(table.columns)


def cost_markers(spec: str) -> int:
    """Runs drawn on a cost chart: the points of its marker traces (the front's line repeats some)."""
    figure = json.loads(spec)
    return figure_points({"data": [tr for tr in figure["data"] if tr.get("mode") == "markers"]})


def cost_row(run_id, fusion_type, params, accuracy):
    return {"run_id": run_id, "name": f"Run {run_id}", "description": f"{fusion_type} {params}",
            "fusion_type": fusion_type, "num_members": 1, "params_total": params, "seconds_per_epoch": 1.0,
            "latency_ms": 0.1, "model_bytes": 1000, "test_accuracy": accuracy}  # fmt: skip


def test_cost_figure_marks_joins_and_labels_the_pareto_front():
    rows = mark_pareto([cost_row(1, "single", 100, 0.90), cost_row(2, "parallel", 500, 0.95),
                        cost_row(3, "parallel", 900, 0.93)], "params_total")  # fmt: skip
    fig = cost_figure(rows, "params_total")
    front_line = fig.data[0]
    assert front_line.mode == "lines" and list(front_line.x) == [100, 500]
    assert [a.text for a in fig.layout.annotations] == ["single 100", "parallel 500"]
    on_front = [tr for tr in fig.data if tr.mode == "markers" and tr.marker.symbol == "diamond"]
    assert sorted(x for tr in on_front for x in tr.x) == [100, 500]
    off_front = [tr for tr in fig.data if tr.mode == "markers" and tr.marker.symbol == "circle"]
    assert [list(tr.x) for tr in off_front] == [[900]]
    assert fig.layout.xaxis.type == "log" and t("charts.cost.axis.params_total") in fig.layout.title.text
    assert set(COST_AXES) == {"params_total", "seconds_per_epoch", "latency_ms", "model_bytes"}
    assert list(cost_table(rows)[t("labs.cost.col.pareto")]) == [True, True, False]
    assert cost_figure([], "latency_ms").layout.annotations[0].text == t("labs.cost.empty")


def test_cost_labels_alternate_sides_and_file_sizes_are_in_kb():
    rows = mark_pareto([cost_row(1, "single", 100, 0.90), cost_row(2, "parallel", 500, 0.95),
                        cost_row(3, "parallel", 900, 0.96)], "model_bytes")  # fmt: skip
    rows[1]["model_bytes"], rows[2]["model_bytes"] = 2_000, 4_000
    fig = cost_figure(mark_pareto(rows, "model_bytes"), "model_bytes")
    shifts = [a.yshift for a in fig.layout.annotations]
    assert len(shifts) == 3 and shifts[0] == -shifts[1] == shifts[2]  # neighbours on opposite sides
    assert list(fig.data[0].x) == [1.0, 2.0, 4.0]  # kB, as in the table
    assert "kB" in fig.layout.xaxis.title.text and "kB" in t("labs.cost.col.model_bytes")
    assert list(cost_table(rows)[t("labs.cost.col.model_bytes")]) == [1.0, 2.0, 4.0]


def test_gap_figure_has_one_bar_per_variant_in_points():
    rows = [
        {
            "variant": "plain",
            "code": "plain",
            "run_id": 1,
            "train_accuracy": 1.0,
            "val_accuracy": 0.9,
            "test_accuracy": 0.89,
        },  # fmt: skip
        {
            "variant": "dropout",
            "code": "dropout",
            "run_id": 2,
            "train_accuracy": 0.95,
            "val_accuracy": 0.9,
            "test_accuracy": 0.89,
        },
    ]
    fig = gap_figure(rows)
    (bars,) = fig.data
    assert bars.type == "bar" and bars.orientation == "h" and list(bars.y) == ["plain", "dropout"]
    assert list(bars.x) == pytest.approx([11.0, 6.0])
    assert list(bars.text) == ["11.0 pts", "6.0 pts"]
    assert bars.marker.color[0] != bars.marker.color[1]  # the plain network stands out
    assert list(gap_table(rows)[t("labs.col.gap")]) == [11.0, 6.0]
    assert gap_figure([]).layout.title.text == t("labs.gap.title")  # no count in the title


def test_variant_label_names_the_remedies_switched_on():
    from fusion_core.experiments import overfit_config

    assert variant_label(overfit_config().to_dict()) == "plain"
    both = overfit_config(dropout=True, fusion=True, epochs=10).to_dict()
    assert variant_label(both) == "dropout + fusion ×5 (10 epochs)"
    assert variant_label(overfit_config(l2=True, early_stopping=True).to_dict()) == "L2 + early stopping"
    assert variant_label(overfit_config(initializer="normal").to_dict()) == "N(0,1) start"


def test_a_variant_has_one_colour_by_its_code_in_every_chart():
    from fusion_core.experiments import overfit_config

    assert variant_code(overfit_config().to_dict()) == "plain"
    both = overfit_config(dropout=True, fusion=True, epochs=10).to_dict()
    assert variant_code(both) == "dropout+fusion5@10"
    colours = variant_colours(["dropout", "plain", "l2"])
    assert colours == variant_colours(["l2", "dropout"]) | {"plain": colours["plain"]}  # order-free
    assert len(set(colours.values())) == 3
    rows = [
        {"variant": "x", "code": "l2", "run_id": 1, "train_accuracy": 1.0, "test_accuracy": 0.9},
        {"variant": "y", "code": "plain", "run_id": 2, "train_accuracy": 1.0, "test_accuracy": 0.8},
    ]
    (bars,) = gap_figure(rows).data
    assert list(bars.marker.color) == [variant_colours(["l2"])["l2"], colours["plain"]]


def test_robustness_figure_draws_the_fusion_bold_and_its_members_thin():
    def rows(outputs):
        return [{"kind": "rotate", "strength": s, "output": o, "accuracy": 0.9 - s / 100, "n": 10}
                for s in (0.0, 10.0) for o in outputs]  # fmt: skip

    curves = {"A": rows(["member_0", "member_1", "fused"]), "B": rows(["member_0", "fused"])}
    fig = robustness_figure(curves, label="Rotation", unit="degrees")
    assert [tr.name for tr in fig.data] == ["A", "B"] and all(tr.line.width == 3.5 for tr in fig.data)
    with_members = robustness_figure(curves, label="Rotation", unit="degrees", members=True)
    thin = [tr for tr in with_members.data if tr.line.width < 2]
    assert len(thin) == 2 and all(tr.line.dash == "dot" for tr in thin)  # B is a single network: no member
    assert figure_points(fig) == 4 and fig.layout.xaxis.title.text == "Rotation (degrees)"
