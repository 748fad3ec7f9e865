"""The Lesson page and its steps (AppTest and the step data), and presentation mode's URL contract.

Each step's link must open a page that exists, with a ready-made experiment that exists, and every
step that trains must fit the lesson's one-minute budget by fusion_core.limits' estimate (the
uncalibrated model, which leans long: see its docstring).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from page_support import APP, PAGE_TIMEOUT, open_page, wait_for
from streamlit.testing.v1 import AppTest

from fusion_core.config import make_config
from fusion_core.limits import estimate
from ui.i18n import STRINGS
from ui.labs_views import SWEEP_MINUTE_PLAN
from ui.lesson import LESSON_MINUTES, STEP_BUDGET_S, STEPS, nav_key, step_configs, step_seconds
from ui.presets import PRESETS

ROOT = Path(__file__).resolve().parents[1]
TRAINING_STEPS = {"article", "parallel5", "mixed", "data_size", "overfitting", "robustness"}


# -- the steps as data -------------------------------------------------------------------------------


def test_the_steps_follow_the_issue_and_fill_45_minutes():
    assert [s.id for s in STEPS] == [
        "article", "parallel5", "mixed", "draw", "data_size", "overfitting", "robustness", "cost"
    ]  # fmt: skip
    assert sum(s.minutes for s in STEPS) == LESSON_MINUTES == 45


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_step_has_its_words_in_both_catalogs(lang):
    for step in STEPS:
        for part in ("title", "do", "say"):
            assert STRINGS[lang].get(f"lesson.step.{step.id}.{part}"), (lang, step.id, part)
        assert STRINGS[lang].get(nav_key(step)) or lang != "en", nav_key(step)  # the link names the page


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.id)
def test_every_step_opens_a_page_that_exists_with_a_preset_that_exists(step):
    assert (ROOT / step.page).is_file()
    if "preset" in step.params:
        assert step.page == "pages/train.py" and step.params["preset"] in PRESETS
    if "plan" in step.params:
        assert step.params["plan"] == "minute"  # the one plan name the labs read (ui.labs.requested_plan)


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.id)
def test_every_step_that_trains_fits_one_minute_by_the_estimate(step):
    configs = step_configs(step)
    assert bool(configs) == (step.id in TRAINING_STEPS)  # the others reuse the networks of earlier steps
    if step.id == "robustness":  # the first and third steps train its two runs, so it can reuse them
        article, mixed = (step_configs(s)[0] for s in STEPS if s.id in ("article", "mixed"))
        assert [c.to_dict() for c in configs] == [article.to_dict(), mixed.to_dict()]
    seconds = sum(estimate(config).total_seconds for config in configs)
    assert seconds <= STEP_BUDGET_S, f"{step.id}: {seconds:.0f} s estimated"
    assert step_seconds(step) <= STEP_BUDGET_S  # also with each run's overhead, as the page shows it


def test_the_articles_network_step_is_that_network_cut_to_2_epochs_on_20000_images():
    (config,) = step_configs(STEPS[0])
    article = make_config(**PRESETS["article"])
    assert config.member_configs() == article.member_configs()  # Dense 512 relu twice, as in the article
    assert config.fusion.type == "single" and config.training.optimizer == "adam"
    assert (config.training.epochs, config.training.train_size) == (2, 20_000)
    assert "2 epochs on 20,000 images" in STRINGS["en"]["lesson.step.article.do"]  # and the step says so


def test_the_data_size_step_trains_the_one_minute_plan():
    configs = step_configs(next(s for s in STEPS if s.id == "data_size"))
    plan = SWEEP_MINUTE_PLAN
    assert len(configs) == len(plan["configs"]) * len(plan["sizes"]) * plan["seeds"]
    assert {c.training.train_size for c in configs} == set(plan["sizes"])


# -- the page ---------------------------------------------------------------------------------------


def test_lesson_page_links_every_step_to_its_page_with_its_parameters(app_home):
    at = open_page("lesson")
    assert [title.value for title in at.title] == [STRINGS["en"]["lesson.title"]]
    links = [el.proto for el in at.get("page_link")]
    assert len(links) == len(STEPS)
    for proto, step in zip(links, STEPS, strict=True):
        assert proto.page_script_hash  # Streamlit resolved the page against the app's navigation
        assert dict(parse_qsl(proto.query_string)) == dict(step.params)
        assert step.page.removeprefix("pages/").removesuffix(".py") in proto.page
    captions = " ".join(c.value for c in at.caption)
    assert captions.count("Trains for about") == len(TRAINING_STEPS)
    assert captions.count("Trains nothing") == len(STEPS) - len(TRAINING_STEPS)
    assert not at.warning  # no step is over its minute on a machine with no runs to scale by


def test_the_lesson_page_speaks_chinese_with_lang_zh(app_home):
    at = open_app({"lang": "zh"})
    at.switch_page("pages/lesson.py").run()
    assert not at.exception, at.exception
    assert [title.value for title in at.title] == [STRINGS["zh"]["lesson.title"]]
    assert [s.value for s in at.subheader][:2] == [
        STRINGS["zh"]["lesson.step.article.title"], STRINGS["zh"]["lesson.step.parallel5.title"]
    ]  # fmt: skip
    assert all(link.proto.label.startswith("打开") for link in at.get("page_link"))


def test_a_ticked_step_stays_ticked_after_another_page(app_home):
    at = open_page("lesson")
    at.checkbox(key="lesson_done_article").check().run()
    assert "1 of 8 steps done" in at.get("progress")[0].proto.text
    at.switch_page("pages/draw.py").run()
    at.switch_page("pages/lesson.py").run()
    assert at.checkbox(key="lesson_done_article").value
    assert not at.checkbox(key="lesson_done_mixed").value


def test_plan_minute_in_the_url_opens_data_size_with_its_one_minute_plan(app_home):
    at = open_page("data_size", {"plan": "minute"})
    assert at.multiselect(key="size_configs").value == SWEEP_MINUTE_PLAN["configs"]
    assert at.multiselect(key="size_sizes").value == SWEEP_MINUTE_PLAN["sizes"]
    assert at.slider(key="size_seeds").value == 2 and at.slider(key="size_epochs").value == 2
    assert "plan" not in at.query_params  # read once: the visitor's own changes then stay
    estimate_text = next(c.value for c in at.caption if "points to train" in c.value)
    assert estimate_text.startswith("8 points to train") and "under a minute" in estimate_text


# -- presentation mode ------------------------------------------------------------------------------


def expander_labels(at) -> list[str]:
    return [e.label for e in at.expander]


def open_app(query: dict | None = None) -> AppTest:
    """The app's first page through app.py (its sidebar holds the toggle), with URL parameters."""
    at = AppTest.from_file(APP, default_timeout=PAGE_TIMEOUT)
    at.query_params.update(query or {})
    at.run()
    assert not at.exception, at.exception
    return at


def test_present_1_switches_the_mode_on_and_folds_the_train_pages_controls(app_home):
    at = open_app({"present": "1"})
    assert at.sidebar.toggle(key="present_toggle").value and at.session_state["present"]
    assert at.query_params["present"] == "1"
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    labels = expander_labels(at)
    assert "Settings" in labels and "Before training" in labels  # folded, closed
    assert not [h.value for h in at.header]  # no section headers: the button and chart get the room
    assert at.button(key="train_button").label == "Train"
    assert len(at.get("plotly_chart")) == 2  # the live charts are still drawn


def test_normal_mode_is_the_default_and_present_0_in_a_link_ends_the_mode(app_home):
    # AppTest runs app.py (the sidebar, the URL sync) on a test's first run only, so each case opens
    # the app afresh; the toggle's clicks are tested in a real browser (test_browser_present.py).
    at = open_app()
    assert not at.sidebar.toggle(key="present_toggle").value and "present" not in at.query_params
    at.switch_page("pages/train.py").run()
    assert "Settings" not in expander_labels(at)
    assert "Before training" in [h.value for h in at.header]

    at = open_app({"present": "0"})
    assert not at.sidebar.toggle(key="present_toggle").value and "present" not in at.query_params


def test_presentation_mode_puts_the_finished_result_beside_the_train_button(app_home):
    at = open_app({"present": "1"})
    at.switch_page("pages/train.py").run()
    at.radio(key="train_fusion_type").set_value("parallel").run()
    at.slider(key="train_num_members").set_value(2).run()
    at.slider(key="train_hidden_layers").set_value(1)
    at.select_slider(key="train_hidden_units").set_value(16)
    at.slider(key="train_epochs").set_value(1)
    at.select_slider(key="train_train_size").set_value(100)
    at.run()
    assert not [m for m in at.markdown if "Test accuracy" in m.value]  # nothing before a run
    at.button(key="train_button").click().run()
    wait_for(at, lambda a: any("Test accuracy" in m.value for m in a.markdown), seconds=180)
    line = next(m.value for m in at.markdown if "Test accuracy" in m.value)
    assert re.match(r"Test accuracy \*\*\d{1,3}\.\d\d%\*\* · The fusion is ", line), line
    assert "best member" in line  # a fusion's gain (or loss) over its best member
