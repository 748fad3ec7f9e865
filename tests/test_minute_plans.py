"""The one-minute plans of the Robustness and Cost labs (AppTest) and the Train page's article preset.

A lesson links to them: Robustness and Cost with ?plan=minute, Train with ?preset=minute or
?preset=article_code. Each plan's estimate, from fusion_core.limits on the real configurations (an
empty store: no calibration), is within its minute, and its button queues exactly the plan's runs.
The pages train on small synthetic digits (the app_home fixture), never the real MNIST.
"""

from __future__ import annotations

import json
import re

import pytest
import streamlit as st
from page_support import open_page, plotly_specs, wait_for

from fusion_core.config import make_config
from fusion_core.data import synthetic_digits
from fusion_core.jobs import active_runs
from fusion_core.store import config_key
from ui.i18n import t
from ui.labs_views import ROBUST_MINUTE_KIND, cost_minute_points, robust_minute_points
from ui.presets import MINUTE_SECONDS, PRESETS
from ui.state import get_store


def fused_points(spec: str) -> int:
    """Points on a robustness chart's fused curves (drawn wide; the members' are thin and dotted)."""
    traces = json.loads(spec)["data"]
    wide = [tr for tr in traces if (tr.get("line") or {}).get("width", 0) > 2]
    return sum(sum(x is not None for x in tr.get("x") or []) for tr in wide)


SYNTHETIC = synthetic_digits(600)


@pytest.fixture
def lab(app_home):
    st.cache_data.clear()
    yield app_home
    st.cache_data.clear()


def estimated_seconds(at) -> float:
    """The seconds in the one-minute plan's estimate caption ('about 31 s on this machine')."""
    (caption,) = [c.value for c in at.caption if "one-minute plan" in c.value]
    match = re.search(r"about (\d+) s on this machine", caption)
    assert match, caption
    return float(match.group(1))


def group_keys(group: str) -> list[str]:
    return sorted(run["config_key"] for run in get_store().list_runs(group_id=group))


def test_robustness_minute_plan_from_the_url_is_estimated_within_a_minute(lab):
    at = open_page("robustness", {"plan": "minute"})
    assert at.expander[0].label == t("robust.minute.title")
    assert any("2 runs to train, 0 already in the store" in c.value for c in at.caption)
    assert 0 < estimated_seconds(at) <= MINUTE_SECONDS
    single, fusion = (p.config for p in robust_minute_points())
    assert single.fusion.type == "single" and fusion.kinds() == ["mlp", "cnn", "lstm"]
    assert fusion.to_dict() == make_config(**PRESETS["minute"]).to_dict()  # the Train page's minute run
    assert single.training == fusion.training  # trained alike: only the fusion differs


def test_robustness_minute_plan_queues_its_two_runs_then_shows_their_noise_curves(lab):
    at = open_page("robustness", {"plan": "minute"})
    at.button(key="robust_minute").click().run()
    assert not at.exception, at.exception
    group = at.query_params["group"]
    assert group.startswith("robust-") and at.query_params["plan"] == "minute"
    expected = sorted(config_key(p.config.to_dict()) for p in robust_minute_points())
    assert group_keys(group) == expected  # exactly the plan's two runs, nothing else

    wait_for(at, lambda a: not active_runs(get_store()) and a.multiselect(key="robust_runs").value, 240)
    ids = [r["id"] for r in get_store().list_runs(group_id=group)]
    assert {r["status"] for r in get_store().list_runs(group_id=group)} == {"done"}
    assert sorted(at.multiselect(key="robust_runs").value) == sorted(ids)
    assert at.selectbox(key="robust_kind").value == ROBUST_MINUTE_KIND
    assert at.checkbox(key="robust_members").value
    spec = plotly_specs(at)[-1]
    assert fused_points(spec) == 12  # 6 noise strengths x 2 fused curves, measured without a click
    assert spec.count('"dash":"dot"') == 3  # the fusion's three members

    # a second visitor following the lesson's link sees the stored runs at once, nothing trained
    again = open_page("robustness", {"plan": "minute"})
    assert any("0 runs to train, 2 already in the store" in c.value for c in again.caption)
    assert sorted(again.multiselect(key="robust_runs").value) == sorted(ids)
    assert fused_points(plotly_specs(again)[-1]) == 12
    assert len(get_store().list_runs()) == 2


def test_cost_minute_plan_from_the_url_is_estimated_within_a_minute_and_queues_its_runs(lab):
    at = open_page("cost", {"plan": "minute"})
    assert at.radio(key="cost_plan").value == "minute"
    assert any("5 runs to train, 0 already in the store" in c.value for c in at.caption)
    assert 0 < estimated_seconds(at) <= MINUTE_SECONDS
    at.button(key="cost_preset").click().run()
    assert not at.exception, at.exception
    group = at.query_params["group"]
    assert group.startswith("cost-") and at.query_params["plan"] == "minute"
    points = cost_minute_points()
    assert [(p.config.fusion.type, p.config.fusion.num_members) for p in points] == [
        ("single", 1), ("parallel", 2), ("parallel", 3), ("parallel", 5), ("hybrid", 3)
    ]  # fmt: skip
    assert group_keys(group) == sorted(config_key(p.config.to_dict()) for p in points)
    at.button(key="cost_stop").click().run()  # the training itself is the cost preset's own test
    wait_for(at, lambda a: not active_runs(get_store()), 120)


def test_cost_plan_choice_follows_the_url_and_switching_lets_the_shown_experiment_go(lab):
    at = open_page("cost")
    assert at.radio(key="cost_plan").value == "full"
    assert any("10 points to train" in c.value for c in at.caption)
    at.radio(key="cost_plan").set_value("minute").run()
    assert at.query_params["plan"] == "minute"
    assert any("5 runs to train" in c.value for c in at.caption)


def test_train_page_opens_the_article_preset_from_its_button_and_from_the_url(lab):
    at = open_page("train")
    at.button(key="train_preset_article_code").click().run()
    assert not at.exception, at.exception
    assert at.select_slider(key="train_batch_size").value == 32
    assert at.slider(key="train_epochs").value == 5
    patience = at.number_input(key="train_early_stopping_patience")
    assert patience.disabled and patience.value == 0  # no validation images to watch
    assert any("60,000 images" in c.value for c in at.caption)  # no hold-out: all of them train

    linked = open_page("train", {"preset": "article_code"})
    assert linked.select_slider(key="train_batch_size").value == 32
    assert any("60,000 images" in c.value for c in linked.caption)
