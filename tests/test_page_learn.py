"""Learn: the explanation, formulas and diagrams, the data card, and the ready-made experiments."""

from __future__ import annotations

import json

import numpy as np
import pytest
from page_support import APP, PAGE_TIMEOUT
from streamlit.testing.v1 import AppTest

import fusion_core.data
from fusion_core.config import make_config
from fusion_core.data import DataError, synthetic_digits

REAL_LOAD_MNIST = fusion_core.data.load_mnist


SYNTHETIC = synthetic_digits(300)
pytestmark = pytest.mark.usefixtures("app_home")


def open_learn() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=PAGE_TIMEOUT).run()  # Learn is the default page
    assert not at.exception, at.exception
    return at


def counts_chart(at: AppTest) -> dict:
    [chart] = at.get("plotly_chart")
    return json.loads(chart.proto.spec)


def test_page_explains_fusion_with_formulas_and_diagrams():
    at = open_learn()
    assert at.title[0].value == "Learn"
    latex = " ".join(e.value for e in at.latex)
    for piece in ("f(W_1 x + b_1)", "f(W_2 y + b_2)", r"\operatorname{softmax}(W_N z + b_N)",
                  r"\frac{1}{K} \sum_{k=1}^{K} p_k", r"\operatorname{softmax}(v)_k", "[x; p_k]"):  # fmt: skip
        assert piece in latex
    assert len(at.get("graphviz_chart")) == 4  # the stacked network, parallel, serial, hybrid
    assert [tab.label for tab in at.tabs] == ["Parallel", "Serial", "Hybrid"]
    text = " ".join(m.value for m in at.markdown)
    assert "StackingClassifier" in text and "Hard voting" in text
    assert any("LeCun" in c.value and "3.0" in c.value for c in at.caption)


def test_data_card_shows_samples_counts_and_source():
    at = open_learn()
    assert at.get("image"), "the grid of sample digits"
    spec = counts_chart(at)
    train, test = spec["data"]
    assert sum(train["y"]) == 300 and sum(test["y"]) == 60  # synthetic_digits(300) has 300 + 60
    assert any("Loaded from: synthetic" in c.value for c in at.caption)
    assert any("Trains on" in c.value for c in at.sidebar.caption)
    assert any("backend" in m.value for m in at.markdown)


def test_missing_mnist_is_a_warning_and_the_rest_still_renders(monkeypatch):
    def no_data(*args, **kwargs):
        raise DataError(
            "Could not load MNIST. Sources tried, in order:\n  1. nowhere\nTo fix: run make setup"
        )

    monkeypatch.setattr(fusion_core.data, "load_mnist", no_data)
    at = open_learn()
    [warning] = at.warning
    assert "Could not load MNIST" in warning.value and "To fix: run make setup" in warning.value
    assert not at.get("plotly_chart") and not at.get("image")
    assert len(at.get("graphviz_chart")) == 4
    assert any("LeCun" in c.value for c in at.caption)
    assert at.header[-1].value == "Where training runs"


@pytest.mark.parametrize("button, preset", [("learn_article", "article"), ("learn_parallel", "parallel5")])
def test_start_buttons_hand_a_preset_to_the_train_page(button, preset):
    from ui.presets import PRESETS

    at = open_learn()
    at.button(key=button).click().run()
    assert at.session_state["preset"] == PRESETS[preset]
    assert at.session_state["preset_name"] == preset
    assert at.title[0].value != "Learn"  # now on the Train page


@pytest.mark.parametrize("name", ["article", "parallel5", "quick", "mixed"])
def test_presets_are_valid_configs(name):
    from ui.presets import PRESETS

    config = make_config(**PRESETS[name])
    assert config.validate() is config


def test_article_preset_is_the_articles_network():
    from ui.presets import PRESETS

    config = make_config(**PRESETS["article"])
    assert config.fusion.type == "single"
    assert config.member.units_per_layer() == [512, 512] and config.member.activation == "relu"
    assert (config.training.optimizer, config.training.epochs, config.training.batch_size) == ("adam", 5, 128)


def test_digit_grid_puts_each_digit_in_its_own_column():
    from ui.predict_ui import digit_grid

    images = np.zeros((30, 28, 28), np.uint8)
    labels = np.repeat(np.arange(10), 3).astype(np.uint8)
    images[:] = (labels * 25)[:, None, None]  # each image is a flat grey of its own label
    grid = digit_grid(images, labels, per_class=2, scale=1)
    assert grid.shape == (2 * 28 + 2, 10 * 30 - 2)
    for digit in range(10):
        cell = grid[:28, digit * 30 : digit * 30 + 28]
        assert (cell == digit * 25).all()


@pytest.mark.mnist
def test_data_card_on_the_real_mnist(monkeypatch):
    monkeypatch.setattr(fusion_core.data, "load_mnist", REAL_LOAD_MNIST)
    at = open_learn()
    train, test = counts_chart(at)["data"]
    assert sum(train["y"]) == 60_000 and sum(test["y"]) == 10_000
    assert train["y"][1] == 6742  # the genuine count of ones
