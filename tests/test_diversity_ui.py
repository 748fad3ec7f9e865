"""The "Why did the fusion help (or not)?" panel on Train and "Members must err differently" on Learn."""

from __future__ import annotations

import json

import numpy as np
import pytest
from page_support import APP, PAGE_TIMEOUT, open_page
from streamlit.testing.v1 import AppTest

from fusion_core.config import make_config
from fusion_core.data import synthetic_digits
from fusion_core.diversity import diversity
from fusion_core.store import RunStore
from ui.diversity_ui import (
    comparison_runs,
    diversity_figure,
    diversity_of,
    diversity_sentence,
    diversity_table,
)
from ui.presets import PRESETS

SYNTHETIC = synthetic_digits(300)
TITLE = "Why did the fusion help (or not)?"
Y = np.arange(100) % 10


def alike(members: int = 2) -> dict:
    """Members wrong on the same 10 digits (the fusion too)."""
    pred = Y.copy()
    pred[:10] = (pred[:10] + 1) % 10
    return diversity([pred] * members, pred, Y)


def different() -> dict:
    """Two members wrong on different halves of 20 digits; the fusion fixes 15 of them."""
    a, b, fused = Y.copy(), Y.copy(), Y.copy()
    a[:10] = (a[:10] + 1) % 10
    b[10:20] = (b[10:20] + 1) % 10
    fused[:5] = (fused[:5] + 1) % 10
    return diversity([a, b], fused, Y)


def results(members: int, d: dict | None) -> dict:
    series = {f"member_{k}": {"test_accuracy": 0.9, "test_loss": 0.3, "params": 100} for k in range(members)}
    series["fused"] = {"test_accuracy": 0.9, "test_loss": 0.3, "params": 0}
    out = {
        "series": series,
        "fused_accuracy": 0.9,
        "best_member": "member_0",
        "best_member_accuracy": 0.9,
        "gain_over_best_member": 0.0,
        "confusion_matrix": np.eye(10, dtype=int).tolist(),
        "per_class_accuracy": [1.0] * 10,
        "misclassified": {"indices": [0], "true": [1], "fused": [2], "members": [[2]] * members},
        "params_total": 100 * members,
        "latency_ms": 1.0,
    }
    if d is not None:
        out["diversity"] = d
    return out


def stored(config, res: dict, name: str = "a run", status: str = "done") -> int:
    store = RunStore()
    run_id = store.create_run(config.to_dict(), name=name)
    store.finish(run_id, status, results=res)
    store.close()
    return run_id


def panel_titles(at: AppTest) -> list[str]:
    return [s.value for s in at.subheader if s.value == TITLE]


# -- the builders -----------------------------------------------------------------------------------


def test_sentence_for_members_that_err_alike_says_a_vote_cannot_fix_them():
    text = diversity_sentence(alike())
    assert "err alike" in text and "cannot be fixed by a vote" in text
    assert "nothing for the fusion to win" in text  # oracle == best member


def test_sentence_for_members_that_err_differently_reads_the_room_used():
    d = different()
    assert d["oracle_accuracy"] == 1.0 and d["best_member_accuracy"] == 0.9 and d["fused_accuracy"] == 0.95
    text = diversity_sentence(d)
    assert "err differently" in text
    assert "100.00%" in text and "10.00 points above the best member (90.00%)" in text
    assert "95.00%, 50% of that room" in text


def test_sentence_when_the_fusion_falls_below_its_best_member():
    d = dict(different(), fused_accuracy=0.85)
    assert "below the best member rather than into that room" in diversity_sentence(d)


def test_table_has_one_row_per_pair_and_figure_three_bars():
    d = alike(3)
    table = diversity_table(d, ["MLP", "CNN", "LSTM"])
    assert len(table) == 3
    assert table.iloc[0, 0] == "Member 1 (MLP) · Member 2 (CNN)"
    assert list(table.iloc[:, 1]) == [0.0, 0.0, 0.0] and list(table.iloc[:, 2]) == [1.0, 1.0, 1.0]
    bars = diversity_figure(different()).data[0]
    assert list(bars.y) == pytest.approx([90.0, 95.0, 100.0])


def test_old_or_single_results_have_no_diversity():
    assert diversity_of(None) is None
    assert diversity_of({"fused_accuracy": 0.9}) is None
    assert diversity_of({"diversity": {"pairs": []}}) is None  # damaged: half the numbers
    assert diversity_of(results(2, alike())) is not None


# -- the panel after a run (Train page) --------------------------------------------------------------


@pytest.mark.usefixtures("app_home")
def test_a_finished_fusion_shows_the_panel():
    run_id = stored(make_config("parallel", 2, "soft"), results(2, different()))
    at = open_page("train", {"run": str(run_id)})
    assert panel_titles(at) == [TITLE]
    assert any("err differently" in m.value for m in at.markdown)
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert any(trace.get("type") == "bar" for spec in specs for trace in spec["data"])
    assert not at.exception and not at.error


@pytest.mark.usefixtures("app_home")
def test_a_single_network_shows_no_panel():
    res = results(1, None)
    run_id = stored(make_config("single", 1, "none"), res)
    at = open_page("train", {"run": str(run_id)})
    assert at.subheader and not panel_titles(at)  # results are drawn, the panel is not
    assert not at.exception


@pytest.mark.usefixtures("app_home")
def test_a_run_stored_before_the_numbers_shows_no_panel_and_no_error():
    run_id = stored(make_config("parallel", 2, "soft"), results(2, None))
    at = open_page("train", {"run": str(run_id)})
    assert not panel_titles(at)
    assert any(s.value.startswith("Results on") for s in at.subheader)
    assert not at.exception and not at.error


# -- Learn: members must err differently ------------------------------------------------------------


def test_comparison_picks_the_newest_identical_and_mixed_fusions():
    mlp = make_config("parallel", 3, "soft").to_dict()
    mixed = make_config("parallel", 3, "soft", kinds="mlp,cnn,lstm").to_dict()
    runs = [  # newest first
        {"id": 5, "status": "done", "config": mlp, "results": results(3, None)},  # old: no numbers
        {"id": 4, "status": "failed", "config": mixed, "results": None},
        {"id": 3, "status": "done", "config": mixed, "results": results(3, alike(3))},
        {"id": 2, "status": "done", "config": mlp, "results": results(3, alike(3))},
        {"id": 1, "status": "done", "config": mlp, "results": results(3, alike(3))},
    ]
    picked = comparison_runs(runs)
    assert picked["identical"]["id"] == 2 and picked["mixed"]["id"] == 3
    assert comparison_runs(runs[:2]) == {"identical": None, "mixed": None}


def open_learn() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=PAGE_TIMEOUT).run()  # Learn is the default page
    assert not at.exception, at.exception
    return at


@pytest.mark.usefixtures("app_home")
def test_learn_without_runs_says_what_to_try_and_starts_the_mixed_preset():
    at = open_learn()
    assert any(h.value == "Members must err differently" for h in at.header)
    assert any("Try it yourself" in m.value for m in at.markdown)
    at.button(key="learn_diversity_mixed").click().run()
    assert at.session_state["preset"] == PRESETS["mixed"]
    assert at.session_state["preset_name"] == "mixed"


@pytest.mark.usefixtures("app_home")
def test_learn_compares_the_visitors_identical_and_mixed_fusions_side_by_side():
    identical = stored(make_config("parallel", 2, "soft"), results(2, alike()), name="five *copies*")
    mixed = stored(make_config("parallel", 2, "soft", kinds="mlp,cnn"), results(2, different()), name="mix")
    at = open_learn()
    texts = [m.value for m in at.markdown]
    assert f"**Identical MLP members (run {identical}: five \\*copies\\*)**" in texts
    assert f"**Mixed kinds: MLP + CNN (run {mixed}: mix)**" in texts
    assert any("disagreement between members: **0.0%**" in m for m in texts)
    assert any("disagreement between members: **20.0%**" in m for m in texts)
    assert not any("Try it yourself" in m for m in texts)
    assert "learn_diversity_mixed" not in [b.key for b in at.button]
