"""Learn's "Members must err differently" before a visitor has runs: the reference result the project
ships (ui/reference/diversity.json, written by bench/bench_diversity_reference.py on the real MNIST)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from page_support import APP, PAGE_TIMEOUT
from streamlit.testing.v1 import AppTest

from fusion_core.config import RunConfig, make_config
from fusion_core.diversity import diversity
from fusion_core.store import RunStore
from ui.diversity_ui import GROUPS, REFERENCE_PATH, diversity_of, reference_result

SHIPPED = json.loads(REFERENCE_PATH.read_text(encoding="utf-8"))


def open_learn() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=PAGE_TIMEOUT).run()  # Learn is the default page
    assert not at.exception, at.exception
    return at


def test_the_shipped_reference_is_a_real_measurement_of_identical_and_mixed_members():
    reference = reference_result()
    assert reference == SHIPPED and reference["measured_by"] == "bench/bench_diversity_reference.py"
    identical, mixed = (RunConfig.from_dict(SHIPPED["runs"][g]["config"]) for g in GROUPS)
    assert set(identical.kinds()) == {"mlp"} and len(identical.kinds()) >= 2
    assert mixed.kinds() == ["mlp", "cnn", "lstm"]
    assert identical.training == mixed.training  # trained alike: only the members' kinds differ
    for group in ("identical", "mixed"):
        d = diversity_of(SHIPPED["runs"][group])
        k = len(SHIPPED["runs"][group]["kinds"])
        assert len(d["member_accuracies"]) == k and len(d["pairs"]) == k * (k - 1) // 2
        assert max(d["member_accuracies"]) == d["best_member_accuracy"] <= d["oracle_accuracy"]
        assert 0.8 < d["fused_accuracy"] < 1.0  # a measured MNIST accuracy, not a placeholder


@pytest.mark.usefixtures("app_home")
def test_learn_without_runs_shows_the_reference_numbers_with_their_date_and_settings():
    at = open_learn()
    texts = [m.value for m in at.markdown]
    captions = [c.value for c in at.caption]
    assert any(SHIPPED["date"] in m and "reference result" in m for m in texts)
    assert any("Try it yourself" in m for m in texts)  # and how to replace it with their own runs
    for group, title in (("identical", "Reference: identical members"), ("mixed", "Reference: mixed kinds")):
        d = SHIPPED["runs"][group]["diversity"]
        assert any(m.startswith(f"**{title}") for m in texts)
        numbers = (
            f"disagreement between members: **{d['mean_disagreement']:.1%}**",
            f"fusion: **{d['fused_accuracy']:.2%}**",
            f"oracle: **{d['oracle_accuracy']:.2%}**",
        )
        assert any(all(n in m for n in numbers) for m in texts)
    settings = [c for c in captions if c.startswith(f"Measured on {SHIPPED['date']}")]
    assert len(settings) == 2 and all("20,000 training images, 2 epochs, batch 128" in c for c in settings)


@pytest.mark.usefixtures("app_home")
def test_the_visitors_own_fusion_replaces_its_side_of_the_reference():
    y = np.arange(100) % 10
    wrong = y.copy()
    wrong[:10] = (wrong[:10] + 1) % 10
    config = make_config("parallel", 2, "soft")
    store = RunStore()
    run_id = store.create_run(config.to_dict(), name="mine")
    numbers = diversity([wrong] * 2, wrong, y)
    store.finish(run_id, "done", results={"fused_accuracy": 0.9, "diversity": numbers})
    store.close()
    texts = [m.value for m in open_learn().markdown]
    assert f"**Identical MLP members (run {run_id}: mine)**" in texts
    assert not any(m.startswith("**Reference: identical members") for m in texts)
    assert any(m.startswith("**Reference: mixed kinds") for m in texts)  # no mixed run of theirs yet
    assert not any("Try it yourself" in m for m in texts)


def test_a_missing_or_damaged_reference_is_none_not_an_error(tmp_path):
    assert reference_result(tmp_path / "absent.json") is None
    (tmp_path / "bad.json").write_text("{not json")
    assert reference_result(tmp_path / "bad.json") is None
    (tmp_path / "partial.json").write_text(json.dumps({"date": "2026-11-29", "runs": {"mixed": {}}}))
    assert reference_result(tmp_path / "partial.json") is None
