"""Shareable links: a RunConfig in the page's URL, and a button that copies the whole link.

The Train page writes its configuration into the URL as the form changes, with a short name per
field and only the values that differ from the defaults, so a link stays readable:

    /train?f=parallel&k=5&ep=3&lang=zh            five soft-voting MLPs, 3 epochs, in Chinese
    /train?f=parallel&nets=mlp,cnn,lstm&m3.u=32   one kind per member, the LSTM with 32 units

Opening such a link in a fresh browser restores the same form. Decoding checks every value with
the config's own validation: a value that is unknown, out of range or does not fit the rest is
dropped, its parameter named in one note, and the default is kept; a link never raises.

`f` (the fusion type) is always written, even when it is the default `single`: it marks a URL whose
parameters are the whole configuration, so an all-default form is restored as such and not
replaced by the config of the run on show.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from fusion_core.config import (
    FUSION_RULES,
    FUSION_TYPES,
    MEMBER_KINDS,
    ConfigError,
    FusionConfig,
    MemberConfig,
    RunConfig,
    TrainConfig,
    parse_kinds,
)
from ui.i18n import DEFAULT_LANGUAGE, LANG_PARAM, language, t
from ui.text import safe

# field -> URL parameter, per part of the config. Short, but still guessable when read in a link.
FUSION_PARAMS = {
    "type": "f",
    "num_members": "k",
    "rule": "r",
    "bootstrap": "bag",
    "meta_units": "meta",
    "stacking_holdout": "hold",
}
MEMBER_PARAMS = {
    "kind": "net",
    "hidden_layers": "l",
    "hidden_units": "u",
    "activation": "act",
    "dropout_rate": "drop",
    "l2": "l2",
    "filters": "filt",
    "initializer": "init",
}
TRAIN_PARAMS = {
    "epochs": "ep",
    "batch_size": "bs",
    "optimizer": "opt",
    "learning_rate": "lr",
    "train_size": "n",
    "validation_fraction": "val",
    "seed": "seed",
    "early_stopping_patience": "stop",
}
KINDS_PARAM = "nets"  # one kind per member, when the members differ: nets=mlp,cnn,lstm
TYPE_PARAM = FUSION_PARAMS["type"]
_MEMBER_PARAM = re.compile(r"^m(\d{1,2})\.([a-z0-9]+)$")  # m2.u=256: member 2's own setting
CONFIG_PARAMS = frozenset(
    {*FUSION_PARAMS.values(), *MEMBER_PARAMS.values(), *TRAIN_PARAMS.values(), KINDS_PARAM}
)
# Each member's own settings (m2.u) never include its kind: `nets` gives every member's kind.
_OWN_MEMBER_PARAMS = {p: f for f, p in MEMBER_PARAMS.items() if f != "kind"}
NOTE_KEY = "share_note"  # the parameters the last decoded link dropped, shown once


def is_config_param(name: str) -> bool:
    """Whether a URL parameter belongs to the configuration (not ?run=, ?lang=, ?group=...)."""
    match = _MEMBER_PARAM.match(name)
    return name in CONFIG_PARAMS or bool(match and match.group(2) in _OWN_MEMBER_PARAMS)


# -- config -> URL ------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)


def default_members(fusion_type: str) -> int:
    """How many members a type starts with on the Train page (3 for a fusion, as config_ui does)."""
    return 1 if fusion_type == "single" else 3


def _member_params(member: MemberConfig, prefix: str = "", *, with_kind: bool = True) -> dict[str, str]:
    start = MemberConfig.of_kind(member.kind)
    out = {}
    for name, param in MEMBER_PARAMS.items():
        if name == "kind" and not with_kind:
            continue
        value = getattr(member, name)
        if value != getattr(start, name) or (name == "kind" and value != "mlp"):
            out[prefix + param] = _text(value)
    return out


def config_to_params(config: RunConfig) -> dict[str, str]:
    """The URL parameters of `config`: the fusion type, then whatever differs from the defaults."""
    fusion, training = config.fusion, config.training
    out = {TYPE_PARAM: fusion.type}
    if fusion.num_members != default_members(fusion.type):
        out[FUSION_PARAMS["num_members"]] = str(fusion.num_members)
    if fusion.rule != FUSION_RULES[fusion.type][0]:
        out[FUSION_PARAMS["rule"]] = fusion.rule
    plain = FusionConfig()
    for name in ("bootstrap", "meta_units", "stacking_holdout"):
        if getattr(fusion, name) != getattr(plain, name):
            out[FUSION_PARAMS[name]] = _text(getattr(fusion, name))
    if config.members is None:
        out.update(_member_params(config.member))
    else:
        out[KINDS_PARAM] = ",".join(config.kinds())
        for i, member in enumerate(config.members):
            out.update(_member_params(member, f"m{i + 1}.", with_kind=False))
    plain_training = TrainConfig()
    for name, param in TRAIN_PARAMS.items():
        if getattr(training, name) != getattr(plain_training, name):
            out[param] = _text(getattr(training, name))
    return out


# -- URL -> config ------------------------------------------------------------------------------------


def _parse(text: str, like: Any) -> Any:
    """URL text as the type of the default `like`; a comma list for per-layer units or activations."""
    if isinstance(like, bool):
        if text not in ("0", "1", "true", "false"):
            raise ValueError(text)
        return text in ("1", "true")
    if "," in text and isinstance(like, (int, str)):
        return [_parse(part, like) for part in text.split(",")]
    if isinstance(like, int):
        if not (text.isascii() and text.isdigit() and len(text) <= 10):
            raise ValueError(text)
        return int(text)
    if isinstance(like, float):
        value = float(text)
        if value != value or value in (float("inf"), float("-inf")):  # nan, inf
            raise ValueError(text)
        return value
    return text


def _apply(part: Any, name: str, text: str | None, check) -> tuple[Any, bool]:
    """(part with `name` set from `text`, True) when `check` accepts it, else (part unchanged, False)."""
    if text is None:
        return part, True
    try:
        changed = replace(part, **{name: _parse(text, getattr(type(part)(), name))})
        check(changed)
    except (ConfigError, ValueError, TypeError):
        return part, False
    return changed, True


def _decode_member(params: Mapping[str, str], kind: str, prefix: str, bad: list[str]) -> MemberConfig:
    member = MemberConfig.of_kind(kind)
    # hidden_layers first: a list of units or activations is checked against the number of layers
    for name, param in MEMBER_PARAMS.items():
        if name == "kind":
            continue
        member, ok = _apply(member, name, params.get(prefix + param), lambda m: m.validate())
        if not ok:
            bad.append(prefix + param)
    return member


def params_to_config(params: Mapping[str, str]) -> tuple[RunConfig | None, list[str]]:
    """(config, dropped parameters) from URL parameters; (None, []) when they hold no configuration.

    Every value is checked on its own and against what was decoded before it (the rule against the
    type, units against layers...); one that fails is dropped and named, the rest still apply.
    """
    if not any(is_config_param(name) for name in params):
        return None, []
    bad: list[str] = []
    fusion_type = params.get(TYPE_PARAM, "single")
    if fusion_type not in FUSION_TYPES:
        bad.append(TYPE_PARAM)
        fusion_type = "single"
    fusion = FusionConfig(
        type=fusion_type, num_members=default_members(fusion_type), rule=FUSION_RULES[fusion_type][0]
    )

    kinds = None
    if KINDS_PARAM in params:
        try:
            kinds = parse_kinds(params[KINDS_PARAM])
        except ConfigError:
            bad.append(KINDS_PARAM)
        else:
            if fusion_type == "single" and len(kinds) > 1:
                bad.append(KINDS_PARAM)
                kinds = None
            elif fusion_type != "single" and FUSION_PARAMS["num_members"] not in params:
                fusion = replace(fusion, num_members=len(kinds))
    for name in ("num_members", "rule", "bootstrap", "meta_units", "stacking_holdout"):
        param = FUSION_PARAMS[name]
        fusion, ok = _apply(fusion, name, params.get(param), lambda f: f.validate())
        if not ok:
            bad.append(param)
    if kinds is not None and len(kinds) != fusion.num_members:
        bad.append(KINDS_PARAM)
        kinds = None

    if kinds is None:
        kind = params.get(MEMBER_PARAMS["kind"], "mlp")
        if kind not in MEMBER_KINDS:
            bad.append(MEMBER_PARAMS["kind"])
            kind = "mlp"
        member, members = _decode_member(params, kind, "", bad), None
    else:
        members = [_decode_member(params, k, f"m{i + 1}.", bad) for i, k in enumerate(kinds)]
        member = members[0]
        if all(m == member for m in members):  # identical members are the "alike" config
            members = None
    known = {f"m{i + 1}." for i in range(len(kinds or []))}
    for name in params:  # a member's setting for a member the link does not have
        match = _MEMBER_PARAM.match(name)
        if match and match.group(2) in _OWN_MEMBER_PARAMS and f"m{match.group(1)}." not in known:
            bad.append(name)

    training = TrainConfig()
    for name, param in TRAIN_PARAMS.items():
        training, ok = _apply(training, name, params.get(param), lambda c: c.validate())
        if not ok:
            bad.append(param)
    config = RunConfig(member=member, members=members, fusion=fusion, training=training)
    try:
        config.validate()
    except ConfigError:  # every part passed on its own; a combination the checks above missed
        return RunConfig(), sorted(set(bad) | {TYPE_PARAM})
    return config, list(dict.fromkeys(bad))


# -- the page's URL -------------------------------------------------------------------------------------


def url_config() -> RunConfig | None:
    """The configuration the URL carries, or None; a dropped value leaves one note for the page."""
    config, bad = params_to_config(st.query_params.to_dict())
    if bad:
        values = {name: st.query_params.get(name, "") for name in bad}
        shown = ", ".join(f"{name}={safe(str(value)[:30])}" for name, value in values.items())
        st.session_state[NOTE_KEY] = t("share.dropped", params=shown)
        for name in bad:
            if name in st.query_params:
                del st.query_params[name]
    return config


def show_note() -> None:
    """The note about dropped link values, once, where the page wants it."""
    note = st.session_state.pop(NOTE_KEY, None)
    if note:
        st.info(note, icon="🔗")


def write_config(config: RunConfig, *, drop: tuple[str, ...] = ()) -> None:
    """Keep the URL in step with the form: `config`'s parameters replace the previous ones.

    `drop` names other parameters that the form now supersedes (a ?preset= it started from).
    """
    wanted = config_to_params(config)
    for name in [n for n in st.query_params if (is_config_param(n) or n in drop) and n not in wanted]:
        del st.query_params[name]
    changed = {name: value for name, value in wanted.items() if st.query_params.get(name) != value}
    if changed:
        st.query_params.update(changed)


def page_link() -> str:
    """The absolute address of this page with its current parameters, the language included."""
    params = st.query_params.to_dict()
    lang = language()
    if lang != DEFAULT_LANGUAGE:
        params[LANG_PARAM] = lang
    base = st.context.url or ""
    return f"{base}?{urlencode(params, safe=',')}" if params else base


def copy_link_ui(key: str) -> None:
    """A small popover holding the page's link; Streamlit's copy icon on the code block copies it."""
    with st.popover(t("share.button"), icon="🔗", key=key, help=t("share.button.help")):
        st.caption(t("share.caption"))
        st.code(page_link(), language=None, wrap_lines=True)
