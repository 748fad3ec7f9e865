"""Widgets that return a validated RunConfig.

`config_ui(prefix)` is shared by every page that trains: each widget's key is the prefix plus the
field name ("train_fusion_type", "train_hidden_units", "train_m2_dropout_rate"...), so tests and
other pages can find them. Options are filtered so that an invalid combination cannot be entered:
the rules offered for a type, their labels and which extra settings they show come from
fusion_core/registry.py. ui/architecture.py draws the config (a Graphviz diagram and a formula).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from typing import Any

import streamlit as st

from fusion_core import heads, registry
from fusion_core.config import (
    ACTIVATIONS,
    FUSION_RULES,
    FUSION_TYPES,
    MAX_CNN_DENSE_LAYERS,
    MAX_FILTERS,
    MAX_LAYERS,
    MAX_LSTM_LAYERS,
    MAX_LSTM_UNITS,
    MAX_MEMBERS,
    MEMBER_KINDS,
    MNIST_TRAIN_SIZE,
    OPTIMIZERS,
    ConfigError,
    FusionConfig,
    MemberConfig,
    RunConfig,
    TrainConfig,
    make_config,
)
from ui import words
from ui.i18n import t
from ui.share import is_config_param, url_config

UNIT_OPTIONS = (8, 16, 32, 64, 128, 256, 512, 1024, 2048)
FILTER_OPTIONS = (4, 8, 16, 32, MAX_FILTERS)
# The most layers and units each kind allows (the config's limits): the sliders stop there.
KIND_MAX_LAYERS = {"mlp": MAX_LAYERS, "cnn": MAX_CNN_DENSE_LAYERS, "lstm": MAX_LSTM_LAYERS}
KIND_MAX_UNITS = {"mlp": UNIT_OPTIONS[-1], "cnn": UNIT_OPTIONS[-1], "lstm": MAX_LSTM_UNITS}
LEARNING_RATES = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
BATCH_SIZES = (16, 32, 64, 128, 256, 512, 1024, 2048)
TRAIN_SIZES = (100, 250, 500, 1000, 2000, 5000, 10_000, 30_000, MNIST_TRAIN_SIZE)
L2_OPTIONS = (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
MAX_EPOCHS_SLIDER = 50


def _with(options: tuple, value) -> list:
    """The options, plus `value` in its sorted place if a default config uses an unusual one."""
    return sorted({*options, value})


def format_number(value: float) -> str:
    return f"{value:g}"


# -- ready-made experiments ------------------------------------------------------------------------

PRESET_PARAM = "preset"
# Query parameters that may override a preset's settings (?preset=quick&epochs=3): make_config's.
OVERRIDE_PARAMS = frozenset(
    {"fusion_type", "num_members", "rule", "kinds"}
    | {f.name for f in fields(MemberConfig)}
    | {f.name for f in fields(TrainConfig)}
    | {f.name for f in fields(FusionConfig)} - {"type"}
)
# What a form written into the URL replaces: the preset it started from and that preset's overrides.
LINK_SUPERSEDES = (PRESET_PARAM, *sorted(OVERRIDE_PARAMS))


def _parse(text: str) -> Any:
    """'3' -> 3, '0.001' -> 0.001, 'true' -> True, anything else stays text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    lowered = text.lower()
    return {"true": True, "false": False}.get(lowered, text)


def preset_config(
    preset: Mapping[str, Any] | None, params: Mapping[str, str] | None = None
) -> RunConfig | None:
    """The config a ready-made experiment asks for, or None when none is asked.

    `preset` holds make_config keyword arguments (another page puts ui.presets.PRESETS[name] in
    st.session_state["preset"]); the URL may name one instead and override any make_config keyword:
    ?preset=quick&epochs=3. Raises ConfigError for an unknown preset or a value out of range.
    """
    from ui.presets import PRESETS

    params = params or {}
    kwargs: dict[str, Any] = dict(preset or {})
    name = params.get(PRESET_PARAM)
    if name is not None:
        if name not in PRESETS:
            allowed = "one of " + ", ".join(repr(p) for p in PRESETS)
            raise ConfigError(PRESET_PARAM, name, allowed, code="choice", options=tuple(PRESETS))
        kwargs = dict(PRESETS[name])
    overrides = {key: _parse(value) for key, value in params.items() if key in OVERRIDE_PARAMS}
    if not kwargs and not overrides:
        return None
    if "fusion_type" in overrides:  # the preset's rule and size may not fit another type
        kwargs.pop("rule", None)
        kwargs.pop("num_members", None)
    if "kinds" in overrides or "kind" in overrides:  # the kinds asked for replace the preset's
        kwargs.pop("kinds", None)
        kwargs.pop("kind", None)
        kwargs.pop("num_members", None)
    return make_config(**{**kwargs, **overrides})


def is_preset_link(params: Mapping[str, str]) -> bool:
    """Whether the URL asks for a ready-made experiment (?preset=quick&epochs=3) or long-named
    overrides alone (?epochs=3), rather than carrying a whole form in ui/share.py's short names."""
    if PRESET_PARAM in params:
        return True
    return not any(is_config_param(k) for k in params) and any(k in OVERRIDE_PARAMS for k in params)


def requested_config(run_config: Mapping[str, Any] | None = None) -> RunConfig | None:
    """What the controls should start from: a ready-made experiment asked for in session state or in
    the URL, else the form a shared link carries, else `run_config` (the stored config of the run on
    show), else None (the defaults)."""
    params = st.query_params.to_dict()
    asked = None
    if st.session_state.get("preset") or is_preset_link(params):
        try:
            asked = preset_config(st.session_state.get("preset"), params if is_preset_link(params) else {})
        except ConfigError as exc:
            st.warning(t("config.preset_invalid", error=words.config_error(exc)))
    else:  # a link carrying the whole form (ui/share.py), as the Train page writes it
        asked = url_config()
    if asked is None and run_config:
        try:
            asked = RunConfig.from_dict(dict(run_config)).validate()
        except (ConfigError, TypeError):  # a run stored by an older Fusion Lab: start from defaults
            asked = None
    return asked


def use_preset(key_prefix: str, name: str) -> None:
    """A button's callback: the controls start again from the ready-made experiment `name`.

    The widgets' own state is dropped first, or it would win over the preset's values."""
    from ui.presets import PRESETS

    for key in [k for k in st.session_state if str(k).startswith(f"{key_prefix}_")]:
        del st.session_state[key]
    st.session_state["preset"] = dict(PRESETS[name])
    st.session_state["preset_name"] = name


def clear_preset_request() -> None:
    """Once a preset has been trained, the controls follow the run instead (also after a refresh)."""
    for key in ("preset", "preset_name"):
        st.session_state.pop(key, None)
    legacy = [k for k in st.query_params if k == PRESET_PARAM or k in OVERRIDE_PARAMS]
    for key in [k for k in legacy if not is_config_param(k)]:  # l2 and seed are the form's own too
        del st.query_params[key]


# -- widgets ----------------------------------------------------------------------------------------


def config_ui(key_prefix: str, *, default: RunConfig | None = None, compact: bool = False) -> RunConfig:
    """Fusion, members and training controls laid out in columns; returns the validated RunConfig."""
    base = default or RunConfig()

    def key(name: str) -> str:
        return f"{key_prefix}_{name}"

    if compact:
        left, right = st.columns(2, gap="large")
        fusion_col, members_col, training_col = left, left, right
    else:
        fusion_col, members_col, training_col = st.columns(3, gap="large")
    with fusion_col:
        fusion = _fusion_ui(key, base.fusion, compact)
    with members_col:
        member, members = _members_ui(key, base, fusion.num_members, compact)
    with training_col:
        training = _training_ui(key, base.training, compact)
    config = RunConfig(member=member, members=members, fusion=fusion, training=training)
    try:
        config.validate()
    except ConfigError as exc:  # the widgets prevent this; say so plainly if it ever happens
        st.error(t("config.invalid", error=words.config_error(exc)))
        st.stop()
    _head_budget_note(fusion_col, config)
    return config


def _head_budget_note(column, config: RunConfig) -> None:
    """Before training: warn when a learned fusion has too few held-out images to beat a vote."""
    if not registry.fusion_of(config).learned_head:
        return
    n = heads.held_out_size(config)
    if n < heads.MIN_HELD_OUT:
        column.caption(t("config.head.too_few", n=n, min=heads.MIN_HELD_OUT))
    elif n < heads.FEW_HELD_OUT:
        column.caption(t("config.head.few", n=n))


def _fusion_ui(key, base: FusionConfig, compact: bool) -> FusionConfig:
    if not compact:
        st.subheader(t("config.fusion"), divider="gray")
    fusion_type = st.radio(
        t("config.fusion_type"),
        FUSION_TYPES,
        index=FUSION_TYPES.index(base.type),
        format_func=lambda v: t(f"config.type.{v}"),
        captions=None if compact else [t(f"config.type.{v}.caption") for v in FUSION_TYPES],
        horizontal=compact,
        key=key("fusion_type"),
        help=t("config.fusion_type.help"),
    )
    single = fusion_type == "single"
    if single:  # a separate key, so the multi-member choice comes back when the type changes back
        st.slider(
            t("config.num_members"),
            1,
            MAX_MEMBERS,
            1,
            disabled=True,
            key=key("num_members_single"),
            help=t("config.num_members.help"),
        )
        num_members = 1
    else:
        default_members = base.num_members if base.type != "single" else 3
        num_members = st.slider(
            t("config.num_members"),
            1,
            MAX_MEMBERS,
            default_members,
            key=key("num_members"),
            help=t("config.num_members.help"),
        )
    rules = FUSION_RULES[fusion_type]
    rule = st.selectbox(
        t("config.rule"),
        rules,
        index=rules.index(base.rule) if base.rule in rules else 0,
        format_func=lambda v: t(registry.get_fusion(fusion_type, v).description_key),
        disabled=single,
        key=key("rule"),
        help=t("config.rule.help"),
    )
    bootstrap = st.checkbox(
        t("config.bootstrap"),
        value=base.bootstrap and not single,
        disabled=single,
        key=key("bootstrap"),
        help=t("config.bootstrap.help"),
    )
    chosen = registry.get_fusion(fusion_type, rule if rule in rules else rules[0])
    meta_units, holdout = base.meta_units, base.stacking_holdout
    if chosen.uses_meta_units:
        meta_units = st.select_slider(
            t("config.meta_units"),
            _with(UNIT_OPTIONS, base.meta_units),
            value=base.meta_units,
            key=key("meta_units"),
            help=t("config.meta_units.help"),
        )
    if chosen.uses_holdout:
        holdout = st.slider(
            t("config.stacking_holdout"),
            0.05,
            0.5,
            float(base.stacking_holdout),
            0.05,
            format="%.2f",
            key=key("stacking_holdout"),
            help=t("config.stacking_holdout.help"),
        )
    return FusionConfig(
        type=fusion_type,
        num_members=num_members,
        rule=rule,
        bootstrap=bool(bootstrap and not single),
        meta_units=int(meta_units),
        stacking_holdout=float(holdout),
    )


# The one-click presets above the members' controls: (ui.presets name, icon)
PRESET_BUTTONS = (("mixed", "🧩"), ("minute", "⏱️"), ("article_code", "📜"))


def _members_ui(key, base: RunConfig, num_members: int, compact: bool):
    """(shared member, per-member list or None)."""
    if not compact:
        st.subheader(t("config.members"), divider="gray")
        for preset, icon in PRESET_BUTTONS:
            st.button(
                t(f"config.preset_{preset}"),
                key=key(f"preset_{preset}"),
                icon=icon,
                on_click=use_preset,
                args=(key("")[:-1], preset),
                help=t(f"config.preset_{preset}.help"),
            )
    each = False
    if num_members > 1 and not compact:
        mode = st.radio(
            t("config.members_mode"),
            ("alike", "each"),
            index=1 if base.members else 0,
            format_func=lambda v: t(f"config.mode.{v}"),
            horizontal=True,
            key=key("members_mode"),
            help=t("config.members_mode.help"),
        )
        each = mode == "each"
    if not each:
        return _member_widgets(key, base.member), None
    defaults = base.members or []
    members = []
    for i in range(num_members):
        start = defaults[i] if i < len(defaults) else base.member
        with st.expander(t("config.member_n", n=i + 1), expanded=i == 0):
            members.append(_member_widgets(lambda name, i=i: key(f"m{i}_{name}"), start))
    if all(m == members[0] for m in members):  # identical members are the "alike" config
        return members[0], None
    return members[0], members


def _member_widgets(key, base: MemberConfig) -> MemberConfig:
    """The kind, then that kind's settings. An MLP's widgets keep their plain keys; another kind's
    have the kind in theirs ('train_cnn_hidden_units'), so each kind keeps its own settings."""
    kind = st.selectbox(
        t("config.kind"),
        MEMBER_KINDS,
        index=MEMBER_KINDS.index(base.kind),
        format_func=lambda v: t(f"config.kind.{v}"),
        key=key("kind"),
        help=t("config.kind.help"),
    )
    start = base if base.kind == kind else MemberConfig.of_kind(kind)

    def kind_key(name: str) -> str:
        return key(name if kind == "mlp" else f"{kind}_{name}")

    units0 = min(start.units_per_layer()[0], KIND_MAX_UNITS[kind])
    act0 = start.activations_per_layer()[0]
    filters = start.filters
    if kind == "cnn":
        filters = st.select_slider(
            t("config.filters"),
            _with(FILTER_OPTIONS, start.filters),
            value=start.filters,
            key=kind_key("filters"),
            help=t("config.filters.help"),
        )
    layers = st.slider(
        t("config.hidden_layers" if kind == "mlp" else f"config.hidden_layers.{kind}"),
        1,
        KIND_MAX_LAYERS[kind],
        min(start.hidden_layers, KIND_MAX_LAYERS[kind]),
        key=kind_key("hidden_layers"),
        help=t("config.hidden_layers.help"),
    )
    units = st.select_slider(
        t("config.hidden_units.lstm" if kind == "lstm" else "config.hidden_units"),
        [u for u in _with(UNIT_OPTIONS, units0) if u <= KIND_MAX_UNITS[kind]],
        value=units0,
        key=kind_key("hidden_units"),
        help=t("config.hidden_units.lstm.help" if kind == "lstm" else "config.hidden_units.help"),
    )
    activation = st.selectbox(
        t("config.activation"),
        ACTIVATIONS,
        index=ACTIVATIONS.index(act0),
        key=kind_key("activation"),
        help=t("config.activation.help"),
    )
    dropout = st.slider(
        t("config.dropout_rate"),
        0.0,
        0.9,
        float(start.dropout_rate),
        0.05,
        format="%.2f",
        key=kind_key("dropout_rate"),
        help=t("config.dropout_rate.help"),
    )
    l2 = st.select_slider(
        t("config.l2"),
        _with(L2_OPTIONS, start.l2),
        value=start.l2,
        format_func=format_number,
        key=kind_key("l2"),
        help=t("config.l2.help"),
    )
    return MemberConfig(
        hidden_layers=int(layers),
        hidden_units=int(units),
        activation=activation,
        dropout_rate=round(float(dropout), 4),
        l2=float(l2),
        kind=kind,
        filters=int(filters),
    )


def _training_ui(key, base: TrainConfig, compact: bool) -> TrainConfig:
    if not compact:
        st.subheader(t("config.training"), divider="gray")
    optimizer = st.selectbox(
        t("config.optimizer"),
        OPTIMIZERS,
        index=OPTIMIZERS.index(base.optimizer),
        format_func=words.optimizer,
        key=key("optimizer"),
        help=t("config.optimizer.help"),
    )
    lr = st.select_slider(
        t("config.learning_rate"),
        _with(LEARNING_RATES, base.learning_rate),
        value=base.learning_rate,
        format_func=format_number,
        key=key("learning_rate"),
        help=t("config.learning_rate.help"),
    )
    batch = st.select_slider(
        t("config.batch_size"),
        _with(BATCH_SIZES, base.batch_size),
        value=base.batch_size,
        key=key("batch_size"),
        help=t("config.batch_size.help"),
    )
    epochs = st.slider(
        t("config.epochs"),
        1,
        max(MAX_EPOCHS_SLIDER, base.epochs),
        base.epochs,
        key=key("epochs"),
        help=t("config.epochs.help"),
    )
    size = st.select_slider(
        t("config.train_size"),
        _with(TRAIN_SIZES, base.train_size),
        value=base.train_size,
        format_func=lambda v: f"{v:,}",
        key=key("train_size"),
        help=t("config.train_size.help"),
    )
    seed_col, patience_col = st.columns(2)
    seed = seed_col.number_input(
        t("config.seed"), 0, 2**31 - 1, base.seed, step=1, key=key("seed"), help=t("config.seed.help")
    )
    held_out = base.validation_fraction > 0  # early stopping watches the validation images
    patience = patience_col.number_input(
        t("config.patience"),
        0,
        50,
        base.early_stopping_patience if held_out else 0,
        step=1,
        key=key("early_stopping_patience"),
        disabled=not held_out,
        help=t("config.patience.help") if held_out else t("config.patience.no_validation"),
    )
    return replace(
        base,
        optimizer=optimizer,
        learning_rate=float(lr),
        batch_size=int(batch),
        epochs=int(epochs),
        train_size=int(size),
        seed=int(seed),
        early_stopping_patience=int(patience),
    )
