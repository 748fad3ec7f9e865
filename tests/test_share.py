"""Shared links and the visitor's context: the config <-> URL round trip (ui/share.py), the form a
link restores on the Train page, run names and origins (ui/run_names.py), the Runs page's origin
filter, the Draw page's default run and the Learn page's article and questions."""

from __future__ import annotations

import pytest
from page_support import APP, PAGE_TIMEOUT, open_page
from streamlit.testing.v1 import AppTest

from fusion_core import paths
from fusion_core.config import FUSION_RULES, MemberConfig, RunConfig, make_config
from fusion_core.models import build_model
from fusion_core.store import RunStore
from ui.i18n import STRINGS, t
from ui.run_names import ORIGINS, config_title, is_default_name, origin_of, run_label, run_title
from ui.runs_ui import filter_runs
from ui.share import config_to_params, is_config_param, params_to_config

# -- the round trip -----------------------------------------------------------------------------------

ROUND_TRIPS = [
    RunConfig(),
    make_config("parallel", 5, "soft", epochs=3),
    make_config("parallel", kinds="mlp,cnn,lstm", epochs=2, train_size=20_000),
    make_config("serial", 3, "stacking", hidden_units=256, stacking_holdout=0.3, dropout_rate=0.25),
    make_config("hybrid", 4, "meta", meta_units=128, bootstrap=True, learning_rate=0.01, optimizer="sgd"),
    make_config("single", kinds="cnn", filters=32, batch_size=64, seed=7, early_stopping_patience=3),
    make_config("single", initializer="normal", activation="tanh", l2=1e-4, validation_fraction=0.2),
    *[make_config(kind, rule=rule) for kind in ("parallel", "serial") for rule in FUSION_RULES[kind]],
]


@pytest.mark.parametrize("config", ROUND_TRIPS, ids=lambda c: c.describe())
def test_a_config_survives_the_url(config):
    params = config_to_params(config)
    assert all(isinstance(v, str) for v in params.values()) and all(is_config_param(k) for k in params)
    decoded, dropped = params_to_config(params)
    assert dropped == [] and decoded == config


def test_each_member_of_its_own_survives_the_url():
    members = [MemberConfig(hidden_layers=1, hidden_units=64), MemberConfig.of_kind("lstm", hidden_units=32)]
    config = make_config("parallel", 2, "hard")
    config.members, config.member = members, members[0]
    params = config_to_params(config.validate())
    assert params["nets"] == "mlp,lstm" and params["m1.l"] == "1" and params["m2.u"] == "32"
    assert params_to_config(params) == (config, [])


def test_the_url_holds_only_what_differs_from_the_defaults():
    assert config_to_params(RunConfig()) == {"f": "single"}
    assert config_to_params(make_config("parallel", 5, "soft", epochs=3)) == {
        "f": "parallel",
        "k": "5",
        "ep": "3",
    }
    assert config_to_params(make_config("single", kinds="lstm")) == {"f": "single", "net": "lstm"}


def test_parameters_of_other_features_are_not_the_config():
    assert params_to_config({"run": "3", "lang": "zh", "group": "sweep-1", "present": "1"}) == (None, [])
    assert not any(
        is_config_param(p) for p in ("run", "lang", "preset", "group", "sizes", "m1.kind", "m1.zz")
    )


def test_tampered_values_are_dropped_by_name_and_the_rest_applies():
    config, dropped = params_to_config(
        {"f": "parallel", "k": "99", "r": "stacking", "ep": "abc", "lr": "nan", "bs": "64",
         "u": "512,256", "nets": "mlp,cnn", "m4.u": "8", "act": "<script>", "bag": "maybe"}
    )  # fmt: skip
    assert set(dropped) == {"k", "r", "ep", "lr", "nets", "m4.u", "act", "bag"}
    assert (config.fusion.type, config.fusion.num_members, config.fusion.rule) == ("parallel", 3, "soft")
    assert config.training.batch_size == 64 and config.training.epochs == 5
    assert config.member.hidden_units == [512, 256]  # one value per layer: a valid list is kept
    assert params_to_config({"f": "quantum"}) == (RunConfig(), ["f"])
    assert params_to_config({"f": "single", "nets": "mlp,cnn"})[1] == ["nets"]  # one network only


def test_a_per_layer_list_that_does_not_fit_the_layers_is_dropped():
    config, dropped = params_to_config({"f": "single", "l": "3", "u": "512,256"})
    assert dropped == ["u"] and config.member.hidden_layers == 3 and config.member.hidden_units == 512


# -- names and origins --------------------------------------------------------------------------------


def test_a_config_title_says_the_configuration_in_a_few_words(monkeypatch):
    assert config_title(make_config("parallel", 5, "soft", epochs=3)) == "5 × MLP · soft vote · 3 epochs"
    assert config_title(RunConfig()) == "MLP · 5 epochs"
    mixed = make_config("parallel", kinds="mlp,cnn,lstm", epochs=1, train_size=10_000)
    assert config_title(mixed) == "MLP + CNN + LSTM · soft vote · 1 epoch · 10,000 images"
    monkeypatch.setenv("FUSION_LAB_LANG", "zh")
    assert config_title(make_config("parallel", 5, "soft", epochs=3)) == "5 × 多层感知机 · 软投票 · 3 轮"


def test_every_rule_and_kind_has_words_in_both_catalogs():
    keys = {f"share.name.rule.{r}" for rules in FUSION_RULES.values() for r in rules}
    keys |= {f"share.name.kind.{k}" for k in ("mlp", "cnn", "lstm")} | {f"share.origin.{o}" for o in ORIGINS}
    for lang in ("en", "zh"):
        assert keys <= set(STRINGS[lang]), sorted(keys - set(STRINGS[lang]))


def test_an_unnamed_run_is_shown_by_its_config_and_a_named_one_by_its_name():
    config = make_config("parallel", 5, "soft", epochs=3).to_dict()
    unnamed = {"id": 12, "name": "Run 12", "config": config, "kind": "train"}
    named = {"id": 13, "name": "my committee", "config": config, "kind": "train"}
    assert is_default_name(unnamed) and not is_default_name(named)
    assert run_title(unnamed) == "5 × MLP · soft vote · 3 epochs" and run_title(named) == "my committee"
    label = run_label(unnamed, 0.97531)
    assert label == "#12 · 5 × MLP · soft vote · 3 epochs · test accuracy 97.53%"
    assert label.count("soft vote") == 1  # the configuration said once, not twice
    assert run_label(named, None).count("soft vote") == 1


def test_a_labs_own_name_is_shown_by_its_config_in_the_visitors_language(monkeypatch):
    config = make_config("single", epochs=2, train_size=250).to_dict()
    swept = {"id": 5, "name": "sweep single n=250 seed 0", "config": config, "kind": "sweep"}
    renamed = {**swept, "name": "sweep of my class"}  # a person's name, though it begins alike
    robust = {**swept, "name": "robustness 1 minute: single", "kind": "robustness"}
    assert is_default_name(swept) and is_default_name(robust) and not is_default_name(renamed)
    assert run_title(swept) == "MLP · 2 epochs · 250 images" and run_title(renamed) == "sweep of my class"
    monkeypatch.setenv("FUSION_LAB_LANG", "zh")
    assert "sweep" not in run_title(swept) and "250" in run_title(swept)


def test_origins_group_what_the_store_records():
    kinds = {"train": "train", "quick": "draw", "sweep": "lab", "cost": "lab", "overfit": "lab",
             "upload": "upload", "cli": "cli"}  # fmt: skip
    for kind, origin in kinds.items():
        assert origin_of({"kind": kind}) == origin
    runs = [
        {"id": i, "name": f"Run {i}", "status": "done", "kind": k, "config": {}} for i, k in enumerate(kinds)
    ]
    assert [r["kind"] for r in filter_runs(runs, origins=["lab"])] == ["sweep", "cost", "overfit"]
    assert [r["kind"] for r in filter_runs(runs, origins=["cli", "upload"])] == ["upload", "cli"]


# -- the Train page -----------------------------------------------------------------------------------


@pytest.fixture
def lab(app_home):
    return app_home


def test_the_train_url_follows_the_form(lab):
    at = open_page("train")
    assert dict(at.query_params) == {"f": "single"}
    at.radio(key="train_fusion_type").set_value("parallel").run()
    at.slider(key="train_num_members").set_value(5).run()
    at.slider(key="train_epochs").set_value(3).run()
    assert not at.exception
    assert dict(at.query_params) == {"f": "parallel", "k": "5", "ep": "3"}
    link = [c.value for c in at.code if "f=parallel" in c.value]
    assert link and "k=5" in link[0] and "ep=3" in link[0]  # the copy-link box holds the same


def test_a_shared_link_restores_the_form_and_the_language(lab):
    at = AppTest.from_file(APP, default_timeout=PAGE_TIMEOUT)  # a fresh browser opening the link
    at.query_params.update({"f": "serial", "r": "stacking", "k": "4", "u": "256", "ep": "3", "lang": "zh"})
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert at.radio(key="train_fusion_type").value == "serial"
    assert at.selectbox(key="train_rule").value == "stacking"
    assert at.slider(key="train_num_members").value == 4
    assert at.select_slider(key="train_hidden_units").value == 256
    assert at.slider(key="train_epochs").value == 3
    assert STRINGS["zh"]["share.caption"] in [c.value for c in at.caption]  # the page speaks Chinese
    assert at.query_params["lang"] == "zh" and any("lang=zh" in c.value for c in at.code)
    assert not at.info  # nothing was dropped


def test_a_tampered_link_is_a_note_naming_the_parameter_not_a_traceback(lab):
    at = open_page("train", {"f": "parallel", "k": "999", "ep": "-1", "bs": "64"})
    assert not at.exception and not at.error
    notes = [i.value for i in at.info if "k=999" in i.value]
    assert notes and "ep=" in notes[0]
    assert at.radio(key="train_fusion_type").value == "parallel"
    assert at.slider(key="train_num_members").value == 3 and at.slider(key="train_epochs").value == 5
    assert at.select_slider(key="train_batch_size").value == 64
    assert "k" not in at.query_params and at.query_params["bs"] == "64"


def test_a_preset_link_still_works_and_becomes_the_forms_own(lab):
    at = open_page("train", {"preset": "quick", "epochs": "3"})
    assert at.slider(key="train_epochs").value == 3 and at.radio(key="train_fusion_type").value == "parallel"
    params = dict(at.query_params)
    assert "preset" not in params and "epochs" not in params
    assert params_to_config(params)[0] == make_config(fusion_type="parallel", num_members=3, rule="soft",
                                                      hidden_layers=1, hidden_units=128, epochs=3,
                                                      train_size=10_000)  # fmt: skip


# -- Runs, Draw and Learn -----------------------------------------------------------------------------


def _finished_run(store: RunStore, config, *, kind: str, name: str | None = None) -> int:
    run_id = store.create_run(config.to_dict(), name=name, kind=kind)
    path = paths.models_dir() / f"run_{run_id}.keras"
    build_model(config).save(path)
    store.set_model_path(run_id, path)
    store.finish(run_id, "done", results={"fused_accuracy": 0.9})
    return run_id


def test_runs_are_named_by_their_config_and_filtered_by_origin(lab):
    store = RunStore()
    tiny = {"hidden_layers": 1, "hidden_units": 16}
    store.create_run(make_config("parallel", 5, "soft", epochs=3, **tiny).to_dict(), kind="train")
    store.create_run(make_config("single", **tiny).to_dict(), name="sweep point", kind="sweep")
    store.create_run(make_config("single", **tiny).to_dict(), kind="cli")
    store.close()
    at = AppTest.from_file(APP, default_timeout=PAGE_TIMEOUT).run()
    at.switch_page("pages/runs.py").run()
    names = at.dataframe(key="runs_table").value["name"].tolist()
    assert names == ["MLP · 5 epochs", "sweep point", "5 × MLP · soft vote · 3 epochs"]
    at.multiselect(key="runs_filter_origin").set_value(["lab", "cli"]).run()
    table = at.dataframe(key="runs_table").value
    assert table["name"].tolist() == ["MLP · 5 epochs", "sweep point"]
    assert table["kind"].tolist() == [t("share.origin.cli"), t("share.origin.lab")]
    assert f"{table['accuracy'].dtype}".startswith("float") or table["accuracy"].isna().all()


def test_draw_starts_on_the_visitors_train_run_not_the_newest_lab_run(lab):
    store = RunStore()
    tiny = make_config("parallel", 2, "soft", hidden_layers=1, hidden_units=16)
    mine = _finished_run(store, tiny, kind="train")
    _finished_run(store, make_config("single", hidden_layers=1, hidden_units=16), kind="sweep")  # newest
    store.close()
    at = AppTest.from_file(APP, default_timeout=PAGE_TIMEOUT).run()
    at.session_state["train_run_id"] = mine  # what the Train page remembers of this visitor
    at.switch_page("pages/draw.py").run()
    assert not at.exception, at.exception
    picker = at.selectbox(key="draw_run")
    assert picker.value == mine and at.query_params["run"] == str(mine)
    assert picker.format_func(mine) == f"#{mine} · 2 × MLP · soft vote · 5 epochs · test accuracy 90.00%"
    fresh = open_page("draw", {"run": str(mine)})  # the link of that page, in a fresh browser
    assert fresh.selectbox(key="draw_run").value == mine


def test_learn_names_the_article_and_links_each_question_to_its_page(lab):
    at = open_page("learn")
    assert any(e.label == t("share.article.header") for e in at.expander)
    markdown = " ".join(m.value for m in at.markdown)
    for question in ("q1", "q2", "q3"):
        assert t(f"share.{question}.question") in markdown
    links = {link.proto.label: link.proto for link in at.get("page_link")}
    stacking = links[t("share.q1.link_stacking")]
    assert "f=serial" in stacking.query_string and "r=stacking" in stacking.query_string
    assert links[t("share.q2.link")].page.endswith("data_size")
    assert "net=lstm" in links[t("share.q3.link_lstm")].query_string


def test_a_lab_link_with_another_labs_experiment_is_a_note(lab):
    at = open_page("data_size", {"group": "cost-123abc"})
    assert not at.exception
    assert any("group=cost" in i.value and "123abc" in i.value for i in at.info)
    assert "group" not in at.query_params
    assert len(at.code) == 1  # the lab's own copy-link box


def test_a_new_tab_with_the_run_in_its_url_shows_that_run_and_its_form(lab):
    store = RunStore()
    config = make_config("parallel", 4, "hard", hidden_layers=1, hidden_units=16, epochs=2)
    run_id = store.create_run(config.to_dict(), kind="train")
    store.finish(run_id, "failed", error="out of memory")
    store.close()
    at = open_page("train", {"run": str(run_id)})  # a fresh session: only the URL knows the run
    assert not at.exception
    assert at.radio(key="train_fusion_type").value == "parallel"
    assert at.slider(key="train_num_members").value == 4 and at.selectbox(key="train_rule").value == "hard"
    assert at.query_params["run"] == str(run_id)
    assert params_to_config(dict(at.query_params))[0] == config  # the link now carries the form too
