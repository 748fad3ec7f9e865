"""The Train page (AppTest) and the builders it draws with (plain unit tests).

The page tests never touch the real MNIST: `fusion_core.data.load_mnist` is replaced by a small
synthetic set, which both the page (`get_mnist`) and the test worker (`default_loader`) pick up,
because both import it when called.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from page_support import APP, PAGE_TIMEOUT, figure_points, open_page, plotly_specs, wait_for
from streamlit.testing.v1 import AppTest

import fusion_core.data
from fusion_core import registry
from fusion_core.config import FUSION_RULES, ConfigError, MemberConfig, make_config
from fusion_core.data import DataError, synthetic_digits
from ui.architecture import architecture_dot, formula_latex, parameter_counts
from ui.charts import (
    FUSED_COLOUR,
    MAX_TRACE_POINTS,
    confusion_figure,
    curves_figure,
    gain_sentence,
    misclassified_gallery,
    overlay_figure,
    results_table,
    thin,
)
from ui.i18n import t
from ui.state import get_store

SYNTHETIC = synthetic_digits(600)


@pytest.fixture
def lab(app_home):
    return app_home


def open_train_page(query: dict | None = None) -> AppTest:
    return open_page("train", query)


def dot(at: AppTest) -> str:
    return at.get("graphviz_chart")[0].proto.spec


def set_tiny_config(at: AppTest, *, epochs: int = 1, batch: int = 32) -> None:
    at.slider(key="train_hidden_layers").set_value(1)
    at.select_slider(key="train_hidden_units").set_value(16)
    at.select_slider(key="train_batch_size").set_value(batch)
    at.slider(key="train_epochs").set_value(epochs)
    at.select_slider(key="train_train_size").set_value(100)
    at.run()


# -- the page ---------------------------------------------------------------------------------------


def test_page_renders_with_empty_charts_before_training(lab):
    at = open_train_page()
    assert [title.value for title in at.title] == ["Train"]
    button = at.button(key="train_button")
    assert button.label == "Train" and not button.disabled
    specs = plotly_specs(at)
    assert len(specs) == 2  # loss and accuracy, drawn before any training
    assert [figure_points(spec) for spec in specs] == [0, 0]
    assert "Dense 512 relu" in dot(at)
    assert r"512\times 784" in at.latex[0].value
    assert not at.dataframe  # no results yet
    assert not at.error


def test_controls_build_the_config_that_is_shown(lab):
    at = open_train_page()
    at.radio(key="train_fusion_type").set_value("parallel").run()
    at.slider(key="train_num_members").set_value(3).run()
    at.selectbox(key="train_rule").set_value("hard").run()
    assert not at.exception
    graph = dot(at)
    assert "Hard vote" in graph and "Member 3" in graph and "Member 4" not in graph
    assert graph.count("-> fusion") == 3
    assert any("parallel x3 (hard), 2x512 relu" in c.value for c in at.caption)
    assert r"\frac{v + \tfrac12 \bar p}{3 + \tfrac12}" in at.latex[0].value


def test_rule_options_follow_the_fusion_type(lab):
    at = open_train_page()
    rule = at.selectbox(key="train_rule")
    assert rule.disabled and rule.options == [t("config.rule.none")]
    for fusion_type in ("parallel", "serial", "hybrid"):
        at.radio(key="train_fusion_type").set_value(fusion_type).run()
        rule = at.selectbox(key="train_rule")
        assert rule.options == [t(f"config.rule.{r}") for r in FUSION_RULES[fusion_type]]
        assert rule.value == FUSION_RULES[fusion_type][0]
    # a rule of one type never survives a change to a type that does not allow it
    at.radio(key="train_fusion_type").set_value("parallel").run()
    at.selectbox(key="train_rule").set_value("weighted").run()
    at.radio(key="train_fusion_type").set_value("serial").run()
    assert at.selectbox(key="train_rule").value == "cascade"
    assert not at.exception


def test_each_rule_shows_the_settings_and_diagram_its_registry_entry_gives(lab):
    at = open_train_page()
    for fusion in registry.FUSIONS:
        if fusion.one_member:
            continue
        at.radio(key="train_fusion_type").set_value(fusion.type).run()
        at.selectbox(key="train_rule").set_value(fusion.rule).run()
        shown = {w.key for w in at.slider} | {w.key for w in at.select_slider}
        assert ("train_stacking_holdout" in shown) == fusion.uses_holdout, fusion.key
        assert ("train_meta_units" in shown) == fusion.uses_meta_units, fusion.key
        assert fusion.diagram.split("\n")[0] in dot(at), fusion.key
    assert not at.exception


def test_each_member_can_have_its_own_architecture(lab):
    at = open_train_page()
    at.radio(key="train_fusion_type").set_value("parallel").run()
    at.slider(key="train_num_members").set_value(2).run()
    at.radio(key="train_members_mode").set_value("each").run()
    at.select_slider(key="train_m1_hidden_units").set_value(64).run()
    graph = dot(at)
    assert "Dense 512 relu" in graph and "Dense 64 relu" in graph
    assert any("mixed members" in c.value for c in at.caption)


def test_missing_mnist_is_an_error_message_not_a_traceback(lab, monkeypatch):
    def refuse(*args, **kwargs):
        raise DataError("Could not load MNIST. To fix: run `make setup`.")

    monkeypatch.setattr(fusion_core.data, "load_mnist", refuse)
    at = open_train_page()
    assert any("make setup" in e.value for e in at.error)
    assert at.button(key="train_button").disabled
    assert not at.exception


def test_a_tiny_run_trains_in_the_background_and_shows_its_results(lab):
    at = open_train_page()
    at.radio(key="train_fusion_type").set_value("parallel").run()
    at.slider(key="train_num_members").set_value(2).run()
    set_tiny_config(at)
    at.button(key="train_button").click().run()
    assert not at.exception
    run_id = at.session_state["train_run_id"]
    assert run_id is not None and at.query_params["run"] == str(run_id)

    wait_for(at, lambda a: len(a.dataframe) > 0)
    table = at.dataframe[0].value
    assert list(table[t("charts.table.model")]) == ["Member 1", "Member 2", "Fused"]
    assert any(s.value == t("live.done") for s in at.success)
    assert any("points" in m.value and "best member" in m.value for m in at.markdown)
    specs = plotly_specs(at)
    assert len(specs) == 4  # loss, accuracy, confusion matrix, the diversity bars
    assert any(h.value == t("diversity.title") for h in at.subheader)  # why the fusion helped (or not)
    assert all(figure_points(spec) > 0 for spec in specs[:2])
    assert len(at.image) > 0  # the synthetic digits are not all learned in one tiny epoch
    assert "votes" in at.image[0].proto.imgs[0].caption

    # a refresh (same URL, new session) shows the same run, and the controls it was trained with;
    # another visitor does not see it
    again = open_train_page({"run": str(run_id)})
    assert len(again.dataframe) == 2 and again.session_state["train_run_id"] == run_id
    assert again.radio(key="train_fusion_type").value == "parallel"
    assert again.slider(key="train_num_members").value == 2
    assert again.select_slider(key="train_hidden_units").value == 16
    other = open_train_page()
    assert not other.dataframe and other.session_state["train_run_id"] is None


def test_a_learned_fusion_warns_before_training_and_says_after_it_that_the_vote_answered(lab):
    at = open_train_page()
    at.radio(key="train_fusion_type").set_value("serial").run()
    at.selectbox(key="train_rule").set_value("stacking").run()
    set_tiny_config(at)  # 100 training images: 20 held out, too few to fit the meta-learner
    assert any("fewer than the 100 it needs" in c.value for c in at.caption)
    at.button(key="train_button").click().run()
    wait_for(at, lambda a: len(a.dataframe) > 0)
    assert any("The learned fusion was set aside" in w.value and "only 20" in w.value for w in at.warning)
    run = get_store().get_run(at.session_state["train_run_id"])
    assert run["results"]["head"]["fallback"] == "soft vote"
    assert not at.exception


def test_stop_button_stops_the_run(lab):
    at = open_train_page()
    set_tiny_config(at, epochs=50, batch=16)  # 350 steps: far longer than the stop takes
    at.button(key="train_button").click().run()
    wait_for(at, lambda a: any("step" in p.text for p in a.get("progress")))
    assert at.button(key="train_button").disabled  # one run at a time per visitor
    assert "Epoch" in at.get("progress")[0].text and "of 50" in at.get("progress")[0].text
    at.button(key="train_live_stop").click().run()
    wait_for(at, lambda a: len(a.dataframe) > 0)
    assert any("Stopped at epoch" in w.value for w in at.warning)
    run = get_store().get_run(at.session_state["train_run_id"])
    assert run["status"] == "stopped" and run["results"]["epochs_completed"] < 50
    assert at.session_state["train_live_cache"]["rows"], "curves measured before the stop are kept"


def test_a_stopped_run_shows_stopped_while_its_test_score_is_computed(lab, monkeypatch):
    from fusion_core import evaluate as evaluate_module

    release = threading.Event()
    real = evaluate_module.evaluate
    monkeypatch.setattr(evaluate_module, "evaluate", lambda *a, **k: release.wait(120) and real(*a, **k))
    at = open_train_page()
    set_tiny_config(at, epochs=50, batch=16)
    at.button(key="train_button").click().run()
    wait_for(at, lambda a: any("step" in p.text for p in a.get("progress")))
    at.button(key="train_live_stop").click().run()
    try:
        wait_for(at, lambda a: any("still being computed" in w.value for w in a.warning))
        shown = next(w.value for w in at.warning if "still being computed" in w.value)
        run = get_store().get_run(at.session_state["train_run_id"])
        assert run["status"] == "running" and run["results"] is None  # shown before the score exists
        assert f"Stopped at epoch {run['trained_epochs']:.2f}" in shown
        assert not at.dataframe
    finally:
        release.set()
    wait_for(at, lambda a: len(a.dataframe) > 0)
    assert any("the results are for the model as it was then" in w.value for w in at.warning)
    assert get_store().get_run(at.session_state["train_run_id"])["status"] == "stopped"


def caption_texts(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def test_a_preset_from_another_page_fills_the_controls_until_it_is_trained(lab):
    from ui.presets import PRESETS

    at = AppTest.from_file(APP, default_timeout=PAGE_TIMEOUT)
    at.run()
    at.session_state["preset"] = dict(PRESETS["parallel5"])
    at.session_state["preset_name"] = "parallel5"
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert any("parallel x5 (soft), 1x256 relu · 3 epochs on 54,000 images" in c for c in caption_texts(at))
    at.slider(key="train_epochs").set_value(1).run()  # the preset does not fight the user's changes
    assert any("1 epochs" in c for c in caption_texts(at))
    set_tiny_config(at)
    at.button(key="train_button").click().run()
    assert "preset" not in at.session_state and "preset_name" not in at.session_state
    wait_for(at, lambda a: len(a.dataframe) > 0)


def test_the_one_minute_preset_button_fills_the_form(lab):
    at = open_train_page()
    at.slider(key="train_epochs").set_value(7).run()
    at.button(key="train_preset_minute").click().run()
    assert not at.exception, at.exception
    assert at.slider(key="train_epochs").value == 2  # the preset's, not the earlier 7
    assert at.radio(key="train_fusion_type").value == "parallel"
    assert any("parallel x3 (soft), mlp+cnn+lstm · 2 epochs" in c for c in caption_texts(at))
    assert any(m.label == t("limits.time") and m.value.endswith(" s") for m in at.metric)  # under 90 s


def test_a_preset_in_the_url_with_an_override(lab):
    at = open_train_page({"preset": "quick", "epochs": "3"})
    assert any("parallel x3 (soft), 1x128 relu · 3 epochs on 10,000 images" in c for c in caption_texts(at))
    assert at.radio(key="train_fusion_type").value == "parallel"
    bad = open_train_page({"preset": "nope"})
    assert any("nope" in w.value for w in bad.warning)
    assert any("single, 2x512 relu" in c for c in caption_texts(bad))


def test_preset_config_reads_names_and_overrides():
    from ui.config_ui import preset_config

    assert preset_config(None, {}) is None
    assert preset_config(None, {"run": "3"}) is None
    quick = preset_config(None, {"preset": "quick", "epochs": "3", "learning_rate": "0.01"})
    assert (quick.fusion.num_members, quick.training.epochs, quick.training.learning_rate) == (3, 3, 0.01)
    serial = preset_config(
        {"fusion_type": "parallel", "rule": "hard", "num_members": 4}, {"fusion_type": "serial"}
    )
    assert (serial.fusion.type, serial.fusion.rule) == ("serial", "cascade")
    with pytest.raises(ConfigError):
        preset_config(None, {"preset": "quick", "epochs": "0"})


def test_the_app_patches_no_streamlit_internals_and_starts_no_workers_under_apptest(lab):
    """Training runs in worker processes, so Streamlit's own clean-up after a rerun is left alone;
    and AppTest never spawns worker processes (the fixture's worker is a thread of this process)."""
    from streamlit.runtime.scriptrunner import script_runner

    import fusion_core.worker_pool
    from ui.state import spawning_allowed

    open_train_page()
    assert not getattr(script_runner._clean_problem_modules, "keeps_keras", False)
    assert not spawning_allowed()
    assert fusion_core.worker_pool._pool is None


@pytest.mark.parametrize("raw", ["abc", "0", "-3", "99999"])
def test_a_bad_job_limit_is_a_sidebar_message_not_a_traceback(lab, monkeypatch, raw):
    monkeypatch.setenv("FUSION_LAB_MAX_JOBS", raw)
    at = AppTest.from_file(APP, default_timeout=PAGE_TIMEOUT).run()  # the sidebar of the first page
    assert not at.exception
    [warning] = at.sidebar.warning
    assert f"Received: FUSION_LAB_MAX_JOBS={raw!r}. Using 1." in warning.value


def test_an_unknown_executor_is_a_sidebar_message(lab, monkeypatch):
    monkeypatch.setenv("FUSION_LAB_EXECUTOR", "spark")
    at = AppTest.from_file(APP, default_timeout=PAGE_TIMEOUT).run()
    assert not at.exception
    [warning] = at.sidebar.warning
    assert "Received: FUSION_LAB_EXECUTOR='spark'" in warning.value


# -- the builders -----------------------------------------------------------------------------------


def rows(series=("member_0", "member_1", "fused"), steps=(20, 40)):
    out = []
    for split in ("train", "val"):
        for s in series:
            for step in steps:
                out.append(
                    {
                        "split": split,
                        "series": s,
                        "step": step,
                        "epoch": step / 40,
                        "seen": step * 32,
                        "elapsed": step / 10,
                        "loss": 1.0 / step,
                        "accuracy": 0.5 + step / 100,
                    }
                )
    return out


def test_curves_figure_without_rows_is_an_empty_chart_with_a_hint():
    fig = curves_figure([], metric="loss", title="Loss")
    assert len(fig.data) == 0
    assert fig.layout.title.text == "Loss"  # no point count in a title
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
    assert fig.layout.annotations[0].text == t("charts.empty_hint")


def test_curves_figure_draws_members_thin_and_the_fusion_bold_on_top():
    fig = curves_figure(rows(), metric="accuracy", x="seen", title="Accuracy")
    data = [d for d in fig.data if d.x[0] is not None]
    assert len(data) == 6  # 3 series x (training, validation)
    assert fig.layout.title.text == "Accuracy" and figure_points(fig) == 12
    assert [d.meta for d in data] == [f"{s}:{split}" for s in ("member_0", "member_1", "fused")
                                     for split in ("train", "val")]  # fmt: skip
    assert fig.data[-1].meta == "fused:val"  # the fusion is drawn last, on top of its members
    fused = [d for d in data if d.name == "Fused"]
    assert {d.line.color for d in fused} == {FUSED_COLOUR}
    assert min(d.line.width for d in fused) > max(d.line.width for d in data if d.name != "Fused")
    assert len({d.line.color for d in data}) == 3  # one colour per member, one for the fusion
    assert {d.line.dash for d in data if "validation" in d.hovertemplate} == {"dash"}
    assert list(data[0].x) == [640, 1280]
    assert fig.layout.yaxis.tickformat == ".0%"
    assert fig.layout.modebar.orientation == "v"  # beside the plot, never over the title


def test_curves_figure_keeps_its_shape_and_thins_long_traces():
    few, many = rows(steps=(20, 40)), rows(steps=tuple(range(20, 20 * 2001, 20)))
    shape = [d.meta for d in curves_figure(few, metric="loss", title="Loss").data]
    fig = curves_figure(many, metric="loss", title="Loss")
    assert [d.meta for d in fig.data] == shape  # more rows, same traces in the same order
    train = next(d for d in fig.data if d.meta == "member_0:train")
    assert len(train.x) == MAX_TRACE_POINTS and train.x[0] == 20 and train.x[-1] == 20 * 2000
    assert list(train.x) == sorted(train.x)
    assert thin(list(range(10)), 4) == [0, 3, 6, 9] and thin([1, 2], 4) == [1, 2]


def test_curves_of_a_single_network_show_one_network():
    fig = curves_figure(rows(series=("member_0", "fused")), metric="loss", title="Loss")
    assert {d.name for d in fig.data if d.x[0] is not None} == {"Network"}


def test_overlay_figure_shows_each_runs_fused_curve():
    fig = overlay_figure({"Run 1": rows(), "Run 2": rows(series=("member_0", "fused"))}, "loss")
    named = [d for d in fig.data if d.x[0] is not None]
    assert [d.name for d in named] == ["Run 1", "Run 1", "Run 2", "Run 2"]
    assert figure_points(fig) == 8
    assert fig.layout.title.text == t("charts.overlay.title", metric=t("charts.metric.loss"))
    coloured = overlay_figure({"Run 1": rows()}, "loss", colours={"Run 1": "#123456"})
    assert {d.line.color for d in coloured.data if d.x[0] is not None} == {"#123456"}


def test_confusion_figure_shows_counts_with_true_and_predicted_axes():
    matrix = np.diag(np.arange(10) + 90)
    matrix[4, 9] = 7
    fig = confusion_figure(matrix.tolist())
    heat = fig.data[0]
    assert np.asarray(heat.text).shape == (10, 10) and heat.text[4][9] == 7
    assert fig.layout.xaxis.title.text == "predicted" and fig.layout.yaxis.title.text == "true"


def results(gain: float) -> dict:
    best = 0.95
    return {
        "series": {
            "member_0": {"test_accuracy": 0.93, "test_loss": 0.25, "params": 1000},
            "member_1": {"test_accuracy": best, "test_loss": 0.2, "params": 1000},
            "fused": {"test_accuracy": best + gain, "test_loss": 0.18, "params": 0},
        },
        "params_total": 2003,
        "best_member": "member_1",
        "gain_over_best_member": gain,
        "member_weights": [0.4, 0.6],
        "misclassified": {"indices": [3, 7], "true": [4, 9], "fused": [9, 4], "members": [[9, 4], [4, 4]]},
    }


def test_gain_sentence_says_more_less_or_equal():
    assert gain_sentence(results(0.006)) == (
        "The fusion is 0.6 points more accurate than its best member (Member 2)."
    )
    assert gain_sentence(results(-0.012)) == (
        "The fusion is 1.2 points less accurate than its best member (Member 2)."
    )
    assert "0.02 points more" in gain_sentence(results(0.0002))
    assert "exactly as accurate" in gain_sentence(results(0.0))


def test_results_table_has_a_row_per_member_and_the_fusion():
    table = results_table(results(0.01))
    assert list(table[t("charts.table.model")]) == ["Member 1", "Member 2", "Fused"]
    assert list(table[t("charts.table.accuracy")]) == [93.0, 95.0, 96.0]
    assert list(table[t("charts.table.weight")])[:2] == [0.4, 0.6]
    assert list(table[t("charts.table.params")]) == [1000, 1000, 2003]  # the fusion counts everything
    single = results_table(results(0.0), single=True)
    assert list(single[t("charts.table.model")]) == ["Network"]


def test_misclassified_gallery_returns_images_and_votes():
    x_test = np.arange(10 * 784, dtype=np.float32).reshape(10, 784) / (10 * 784)
    items = misclassified_gallery(results(0.0), x_test)
    assert [i["index"] for i in items] == [3, 7]
    assert items[0]["image"].shape == (28, 28) and items[0]["image"].dtype == np.uint8
    assert items[0]["caption"] == "true 4 → 9 · votes 9 4"


@pytest.mark.parametrize(
    ("fusion_type", "rule"), [(ft, r) for ft, rules in FUSION_RULES.items() for r in rules]
)
def test_parameter_counts_match_the_built_model(fusion_type, rule):
    from fusion_core.models import build_model, count_params

    config = make_config(fusion_type, None, rule, hidden_units=16, hidden_layers=2)
    assert parameter_counts(config) == count_params(build_model(config), config.fusion.num_members)
    assert f"{parameter_counts(config)['member_0']:,}" in architecture_dot(config)


def test_parameter_counts_of_mixed_members_match_the_built_model():
    from fusion_core.models import build_model, count_params

    config = make_config("parallel", 2, "feature")
    config.members = [
        MemberConfig(hidden_layers=1, hidden_units=8),
        MemberConfig(hidden_layers=3, hidden_units=32),
    ]
    assert parameter_counts(config.validate()) == count_params(build_model(config), 2)


def test_cascade_is_drawn_as_a_chain_and_written_with_its_shapes():
    config = make_config("serial", 3, "cascade", hidden_units=32)
    graph = architecture_dot(config)
    assert "m0:p:e -> m1" in graph and "m1:p:e -> m2" in graph and "input -> m2 [style=dashed" in graph
    formula = formula_latex(config)
    assert "z_k = [x;" in formula and r"\text{ or } 794" in formula and "p &= p_{3}" in formula


def test_formulas_name_each_fusion():
    assert r"\frac{1}{4} \sum_{k=1}^{4} p_k" in formula_latex(make_config("parallel", 4, "soft"))
    assert r"W_m &\in \mathbb{R}^{10\times 30}" in formula_latex(make_config("serial", 3, "stacking"))
    assert r"\mathbb{R}^{64\times 814}" in formula_latex(make_config("hybrid", 3))
    assert r"W_f &\in \mathbb{R}^{10\times 1536}" in formula_latex(make_config("parallel", 3, "feature"))
    single = formula_latex(make_config())
    assert r"p &= \mathrm{softmax}" in single and "^{(k)}" not in single


# -- cost before training ---------------------------------------------------------------------------


def test_the_estimate_is_shown_before_training(lab):
    at = open_train_page()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Parameters"] == "669,706"
    assert metrics["Memory"].endswith("MB") and metrics["Estimated time"].endswith(("s", "min"))
    assert not at.button(key="train_button").disabled


def test_a_run_this_machine_cannot_finish_is_refused_with_the_numbers(lab):
    at = open_train_page()
    at.radio(key="train_fusion_type").set_value("parallel").run()
    at.slider(key="train_num_members").set_value(10).run()
    at.slider(key="train_hidden_layers").set_value(8).run()
    at.select_slider(key="train_hidden_units").set_value(2048).run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["Parameters"] == "310,026,340"
    (error,) = [e.value for e in at.error if "too large for this machine" in e.value]
    assert "310,026,340 parameters; the limit is 100,000,000" in error and "GB of memory" in error
    assert at.button(key="train_button").disabled


def test_a_visitor_with_enough_runs_waiting_cannot_queue_another(lab):
    from fusion_core.limits import MAX_ACTIVE_PER_VISITOR

    store = get_store()
    mine = [
        store.create_run(make_config().to_dict(), name=f"waiting {i}") for i in range(MAX_ACTIVE_PER_VISITOR)
    ]
    at = open_train_page()
    at.session_state["visitor_run_ids"] = mine
    at.run()
    assert any(
        f"You already have {MAX_ACTIVE_PER_VISITOR} runs queued or running" in e.value for e in at.error
    )
    assert at.button(key="train_button").disabled
    store.finish(mine[0], "failed", error="made for the test")
    at.run()
    assert not at.error and not at.button(key="train_button").disabled


@pytest.mark.parametrize("value", ["²", "12345678901234567890", "-1", "abc", "0", "1e3", " 7"])
def test_a_run_in_the_url_that_is_not_a_plain_number_is_ignored_with_a_note(lab, value):
    at = open_train_page({"run": value})
    assert not at.exception, at.exception
    notes = [c.value.replace("\\", "") for c in at.caption if "Ignored ?run=" in c.value]
    assert notes and "expected a run number, like ?run=12" in notes[0]
    assert "run" not in at.query_params  # dropped from the address, so a refresh is clean
    assert not at.button(key="train_button").disabled


def test_run_id_from_text_accepts_only_small_plain_numbers():
    from ui.live import run_id_from_text

    assert run_id_from_text("12") == 12 and run_id_from_text("999999999") == 999_999_999
    for bad in ("²", "١٢", "1234567890", "-1", "+1", "0", "", "1.0", "1_000"):
        assert run_id_from_text(bad) is None, bad


def test_a_click_that_arrives_after_the_limit_was_reached_queues_nothing(lab):
    from fusion_core.limits import MAX_ACTIVE_PER_VISITOR

    at = open_train_page()
    assert not at.button(key="train_button").disabled
    store = get_store()
    mine = [
        store.create_run(make_config().to_dict(), name=f"waiting {i}") for i in range(MAX_ACTIVE_PER_VISITOR)
    ]
    at.session_state["visitor_run_ids"] = list(mine)  # reached in another tab, after this page was drawn
    at.button(key="train_button").click().run()
    assert not at.exception, at.exception
    assert sorted(run["id"] for run in store.list_runs()) == sorted(mine)  # no new run
    assert at.button(key="train_button").disabled
