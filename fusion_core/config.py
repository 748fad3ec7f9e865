"""Configuration of a run: what the members look like, how they are fused, how they train.

Plain dataclasses with typed defaults. `RunConfig.to_dict()` gives a JSON-ready dict and
`RunConfig.from_dict(d)` rebuilds it; `validate()` checks every field once and raises a
`ConfigError` that names the field, the value received and what is allowed.

The defaults reproduce the seed article's example: one stacked network with two hidden layers of
512 relu units, Adam, batch 128, 5 epochs, on the full training set.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from fusion_core import registry

ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "selu", "gelu", "swish", "linear")
# The fusion types and the rules each accepts (the first is its default) come from the registry.
FUSION_TYPES = registry.FUSION_TYPES
FUSION_RULES = registry.FUSION_RULES
OPTIMIZERS = ("adam", "sgd", "rmsprop")

MNIST_TRAIN_SIZE = 60_000
MIN_TRAIN_SIZE = 100
MAX_LAYERS = 8
MIN_UNITS, MAX_UNITS = 8, 2048
MAX_MEMBERS = 10
# The member kinds (the registry's entries, the article's MLP first) and the settings of the two
# that are not the MLP: a convolutional network's first filters, its dense head; an LSTM's width.
MEMBER_KINDS = registry.MEMBER_KIND_NAMES
MIN_FILTERS, MAX_FILTERS = 4, 64
MAX_CNN_DENSE_LAYERS = 2  # the dense head after the convolutions
MAX_LSTM_LAYERS, MAX_LSTM_UNITS = 2, 512  # an LSTM's time per epoch grows with units squared
# A member's Dense kernels start from Glorot uniform (Keras' default) or, as in Nielsen's book,
# from N(0, 1): large weights that let a small network memorise a small training set.
INITIALIZERS = ("glorot_uniform", "normal")


class ConfigError(ValueError):
    """A configuration value is out of range; the message names the field and the value.

    `code` and `params` say the same for a page that words it in the visitor's language:
    'int_range' (low, high), 'float_range' (low, high), 'choice' (options), else 'other'.
    """

    def __init__(self, field_name: str, value: Any, allowed: str, *, code: str = "other", **params: Any):
        self.field = field_name
        self.value = value
        self.allowed = allowed
        self.code = code
        self.params = params
        super().__init__(f"{field_name} must be {allowed}. Received: {field_name}={value!r}")


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(
            name, value, f"a whole number from {low} to {high}", code="int_range", low=low, high=high
        )


def _check_float(name: str, value: Any, low: float, high: float, *, high_open: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and low <= value and (value < high if high_open else value <= high)
    if not ok:
        bracket = ")" if high_open else "]"
        raise ConfigError(
            name, value, f"a number in [{low}, {high}{bracket}", code="float_range", low=low, high=high
        )


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(
            name,
            value,
            "one of " + ", ".join(repr(a) for a in allowed),
            code="choice",
            options=tuple(allowed),
        )


@dataclass
class MemberConfig:
    """One member network. The article's stacked network (kind 'mlp'): y = f(W1 x + b1), ..., softmax.

    kind 'cnn': two convolution + pooling blocks (`filters`, then twice as many) read the 28x28
    image, then `hidden_layers` Dense layers of `hidden_units`. kind 'lstm': `hidden_layers`
    stacked LSTMs of `hidden_units` read the image row by row, top to bottom. `MemberConfig.of_kind`
    gives each kind's default shape.
    """

    hidden_layers: int = 2  # hidden Dense layers (mlp, cnn's head) or stacked LSTMs (lstm)
    hidden_units: int | list[int] = 512  # units for every layer, or one value per layer
    activation: str | list[str] = "relu"  # one activation for all layers, or one per layer
    dropout_rate: float = 0.0  # dropout after each hidden layer, 0 to <1
    l2: float = 0.0  # L2 weight decay on the kernels, 0 to 1
    kind: str = "mlp"  # mlp, cnn or lstm (left out of to_dict when 'mlp': stored runs keep their key)
    filters: int = 16  # cnn only: filters of the first convolution, 4 to 64 (the second has twice as many)
    # mlp only: the Dense kernels' start, 'glorot_uniform' or 'normal' = N(0, 1) (left out of
    # to_dict when 'glorot_uniform': stored runs keep their key)
    initializer: str = "glorot_uniform"

    @classmethod
    def of_kind(cls, kind: str, **overrides: Any) -> MemberConfig:
        """A member of `kind` in its default shape (the sizes measured in docs/PERFORMANCE.md)."""
        _check_choice("member.kind", kind, MEMBER_KINDS)
        return cls(**{**KIND_DEFAULTS.get(kind, {}), "kind": kind, **overrides})

    def to_dict(self) -> dict[str, Any]:
        """The plain dict, without the settings this kind does not use (an MLP's dict has no `kind`)."""
        data = asdict(self)
        if self.kind == "mlp":
            del data["kind"]
        if self.kind != "cnn":
            del data["filters"]
        if self.initializer == "glorot_uniform":
            del data["initializer"]
        return data

    def units_per_layer(self) -> list[int]:
        if isinstance(self.hidden_units, list):
            return list(self.hidden_units)
        return [self.hidden_units] * self.hidden_layers

    def activations_per_layer(self) -> list[str]:
        if isinstance(self.activation, list):
            return list(self.activation)
        return [self.activation] * self.hidden_layers

    def validate(self, prefix: str = "member") -> MemberConfig:
        _check_int(f"{prefix}.hidden_layers", self.hidden_layers, 1, MAX_LAYERS)
        units = self.hidden_units
        if isinstance(units, list):
            if len(units) != self.hidden_layers:
                raise ConfigError(
                    f"{prefix}.hidden_units", units, f"one value or a list of {self.hidden_layers} values"
                )
            for i, u in enumerate(units):
                _check_int(f"{prefix}.hidden_units[{i}]", u, MIN_UNITS, MAX_UNITS)
        else:
            _check_int(f"{prefix}.hidden_units", units, MIN_UNITS, MAX_UNITS)
        acts = self.activation
        if isinstance(acts, list):
            if len(acts) != self.hidden_layers:
                raise ConfigError(
                    f"{prefix}.activation", acts, f"one name or a list of {self.hidden_layers} names"
                )
            for i, a in enumerate(acts):
                _check_choice(f"{prefix}.activation[{i}]", a, ACTIVATIONS)
        else:
            _check_choice(f"{prefix}.activation", acts, ACTIVATIONS)
        _check_float(f"{prefix}.dropout_rate", self.dropout_rate, 0.0, 0.95)
        _check_float(f"{prefix}.l2", self.l2, 0.0, 1.0)
        _check_choice(f"{prefix}.kind", self.kind, MEMBER_KINDS)
        _check_choice(f"{prefix}.initializer", self.initializer, INITIALIZERS)
        if self.initializer != "glorot_uniform" and self.kind != "mlp":
            allowed = "'glorot_uniform' for a cnn or lstm member"
            raise ConfigError(f"{prefix}.initializer", self.initializer, allowed)
        if self.kind == "cnn":
            _check_int(f"{prefix}.filters", self.filters, MIN_FILTERS, MAX_FILTERS)
            _check_int(f"{prefix}.hidden_layers (of a cnn's dense head)", self.hidden_layers, 1,
                       MAX_CNN_DENSE_LAYERS)  # fmt: skip
        elif self.kind == "lstm":
            _check_int(f"{prefix}.hidden_layers (stacked LSTMs)", self.hidden_layers, 1, MAX_LSTM_LAYERS)
            for i, u in enumerate(self.units_per_layer()):
                _check_int(f"{prefix}.hidden_units[{i}] (of an lstm)", u, MIN_UNITS, MAX_LSTM_UNITS)
        return self


# Each kind's default shape: a CNN conv5x5(16)-pool-conv5x5(32)-pool-Dense 128, an LSTM(64) over
# the 28 rows; their arithmetic per image measured at 2.7x and 1.9x the article's MLP's (registry).
KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "mlp": {},
    "cnn": {"hidden_layers": 1, "hidden_units": 128, "filters": 16},
    "lstm": {"hidden_layers": 1, "hidden_units": 64, "activation": "tanh"},
}


@dataclass
class FusionConfig:
    """How the members are combined. See docs/FUSION.md for the formulas."""

    type: str = "single"  # single, parallel, serial or hybrid
    num_members: int = 1  # 1 to 10 (single always has 1)
    rule: str = "none"  # depends on type, see FUSION_RULES
    bootstrap: bool = False  # bagging: each member trains on its own bootstrap resample
    meta_units: int = 64  # hidden units of the meta-network (serial stacking, hybrid)
    stacking_holdout: float = 0.2  # share of training data kept for the meta-learner (stacking)

    def validate(self) -> FusionConfig:
        _check_choice("fusion.type", self.type, FUSION_TYPES)
        _check_int("fusion.num_members", self.num_members, 1, MAX_MEMBERS)
        if self.type == "single" and self.num_members != 1:
            raise ConfigError("fusion.num_members", self.num_members, "1 when fusion.type is 'single'")
        _check_choice(f"fusion.rule (for type {self.type!r})", self.rule, FUSION_RULES[self.type])
        if not isinstance(self.bootstrap, bool):
            raise ConfigError("fusion.bootstrap", self.bootstrap, "true or false")
        _check_int("fusion.meta_units", self.meta_units, MIN_UNITS, MAX_UNITS)
        _check_float("fusion.stacking_holdout", self.stacking_holdout, 0.05, 0.5)
        return self


@dataclass
class TrainConfig:
    """How the models learn."""

    epochs: int = 5  # passes over the training set, 1 to 200
    batch_size: int = 128  # examples per gradient step, 1 to 4096
    optimizer: str = "adam"  # adam, sgd (with momentum 0.9) or rmsprop
    learning_rate: float = 1e-3  # step size, (0, 1]
    train_size: int = MNIST_TRAIN_SIZE  # training images drawn (stratified); capped at the pool
    # share of the 60,000 held out as a fixed validation set; 0 = none, as in the article's code
    # (training curves only, no early stopping)
    validation_fraction: float = 0.1
    seed: int = 0  # same seed, same backend, same machine: same curves
    early_stopping_patience: int = 0  # 0 = off; else stop after this many epochs without gain

    def validate(self) -> TrainConfig:
        _check_int("training.epochs", self.epochs, 1, 200)
        _check_int("training.batch_size", self.batch_size, 1, 4096)
        _check_choice("training.optimizer", self.optimizer, OPTIMIZERS)
        _check_float("training.learning_rate", self.learning_rate, 1e-6, 1.0)
        _check_int("training.train_size", self.train_size, MIN_TRAIN_SIZE, MNIST_TRAIN_SIZE)
        fraction = self.validation_fraction
        if fraction != 0 or isinstance(fraction, bool):
            try:
                _check_float("training.validation_fraction", fraction, 0.01, 0.5)
            except ConfigError:
                allowed = "0 (no hold-out) or a number in [0.01, 0.5]"
                raise ConfigError("training.validation_fraction", fraction, allowed) from None
        _check_int("training.seed", self.seed, 0, 2**31 - 1)
        _check_int("training.early_stopping_patience", self.early_stopping_patience, 0, 50)
        if self.early_stopping_patience and not self.validation_fraction:
            allowed = "0 when training.validation_fraction is 0 (early stopping watches the validation set)"
            raise ConfigError("training.early_stopping_patience", self.early_stopping_patience, allowed)
        return self


@dataclass
class RunConfig:
    """Everything that defines a training run."""

    member: MemberConfig = field(default_factory=MemberConfig)  # shared by all members...
    members: list[MemberConfig] | None = None  # ...unless each member has its own architecture
    fusion: FusionConfig = field(default_factory=FusionConfig)
    training: TrainConfig = field(default_factory=TrainConfig)

    def member_configs(self) -> list[MemberConfig]:
        """One MemberConfig per member, in order."""
        if self.members is not None:
            return list(self.members)
        return [self.member] * self.fusion.num_members

    def validate(self) -> RunConfig:
        self.member.validate("member")
        self.fusion.validate()
        self.training.validate()
        if self.members is not None:
            if len(self.members) != self.fusion.num_members:
                raise ConfigError(
                    "members",
                    f"{len(self.members)} configs",
                    f"one config per member ({self.fusion.num_members})",
                )
            for i, m in enumerate(self.members):
                m.validate(f"members[{i}]")
        return self

    def kinds(self) -> list[str]:
        """Each member's kind, in order: ['mlp', 'cnn', 'lstm']."""
        return [m.kind for m in self.member_configs()]

    # -- round trip ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["member"] = self.member.to_dict()
        if self.members is not None:
            data["members"] = [m.to_dict() for m in self.members]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Rebuild from `to_dict()` output; unknown keys are refused with a clear message."""
        if not isinstance(data, dict):
            raise ConfigError("config", data, "a dict")
        _refuse_unknown("config", data, cls)
        member = _build(MemberConfig, data.get("member", {}), "member")
        members_raw = data.get("members")
        members = None
        if members_raw is not None:
            if not isinstance(members_raw, list):
                raise ConfigError("members", members_raw, "a list of member configs or null")
            members = [_build(MemberConfig, m, f"members[{i}]") for i, m in enumerate(members_raw)]
        return cls(
            member=member,
            members=members,
            fusion=_build(FusionConfig, data.get("fusion", {}), "fusion"),
            training=_build(TrainConfig, data.get("training", {}), "training"),
        )

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        return cls.from_dict(json.loads(text))

    def describe(self) -> str:
        """A short human label, e.g. 'parallel x5 (soft), 2x512 relu', 'parallel x3 (soft), mlp+cnn+lstm'."""
        m = self.member
        arch = f"{m.hidden_layers}x{m.units_per_layer()[0]} {m.activations_per_layer()[0]}"
        if m.kind != "mlp":
            arch = f"{m.kind} {arch}"
        if self.members is not None:
            kinds = self.kinds()
            arch = "+".join(kinds) if len(set(kinds)) > 1 else "mixed members"
        if self.fusion.type == "single":
            return f"single, {arch}"
        bag = ", bagging" if self.fusion.bootstrap else ""
        return f"{self.fusion.type} x{self.fusion.num_members} ({self.fusion.rule}{bag}), {arch}"


def _refuse_unknown(prefix: str, data: dict, cls: type) -> None:
    known = {f.name for f in fields(cls)}
    for key in data:
        if key not in known:
            raise ConfigError(f"{prefix}.{key}", data[key], "absent (unknown field)")


def _build(cls: type, data: Any, prefix: str):
    if not isinstance(data, dict):
        raise ConfigError(prefix, data, "a dict")
    _refuse_unknown(prefix, data, cls)
    return cls(**data)


def parse_kinds(kinds: str | list[str] | tuple[str, ...]) -> list[str]:
    """'mlp,cnn,lstm' (or a list) -> ['mlp', 'cnn', 'lstm'], each checked against MEMBER_KINDS."""
    names = [k.strip() for k in kinds.split(",")] if isinstance(kinds, str) else list(kinds)
    if not names or not all(isinstance(k, str) and k in MEMBER_KINDS for k in names):
        allowed = ", ".join(repr(k) for k in MEMBER_KINDS)
        raise ConfigError("kinds", kinds, f"one or more of {allowed}, separated by commas")
    return names


def make_config(
    fusion_type: str = "single",
    num_members: int | None = None,
    rule: str | None = None,
    kinds: str | list[str] | None = None,
    **overrides: Any,
) -> RunConfig:
    """A validated RunConfig from a few common choices.

    `kinds` gives each member's kind ('mlp,cnn,lstm'; its length sets the number of members), or
    one kind for every member. Each member starts from its kind's default shape.
    `overrides` may name any MemberConfig or TrainConfig field (e.g. hidden_layers=3, epochs=1),
    applied to every member, or FusionConfig's bootstrap / meta_units / stacking_holdout.
    """
    if kinds is None and "kind" in overrides:  # one kind for every member, as a MemberConfig field
        kinds = [overrides.pop("kind")]
    kind_list = parse_kinds(kinds) if kinds is not None else ["mlp"]
    if num_members is None:
        num_members = len(kind_list) if len(kind_list) > 1 else 1 if fusion_type == "single" else 3
    if len(kind_list) > 1 and len(kind_list) != num_members:
        raise ConfigError("kinds", ",".join(kind_list), f"one kind, or one per member ({num_members})")
    if rule is None:
        rule = FUSION_RULES.get(fusion_type, ("none",))[0]
    cfg = RunConfig(fusion=FusionConfig(type=fusion_type, num_members=num_members, rule=rule))
    member_fields = {f.name for f in fields(MemberConfig)} - {"kind"}
    train_fields = {f.name for f in fields(TrainConfig)}
    fusion_fields = {f.name for f in fields(FusionConfig)} - {"type", "num_members", "rule"}
    member_overrides = {k: v for k, v in overrides.items() if k in member_fields}
    shapes = [MemberConfig.of_kind(k, **member_overrides) for k in kind_list]
    cfg.member = shapes[0]
    if len(set(kind_list)) > 1:  # identical kinds stay one shared member: the same stored key
        cfg.members = shapes
    for key, value in overrides.items():
        if key in member_fields:
            continue
        elif key in train_fields:
            setattr(cfg.training, key, value)
        elif key in fusion_fields:
            setattr(cfg.fusion, key, value)
        else:
            raise ConfigError(key, value, "a MemberConfig, TrainConfig or FusionConfig field")
    return cfg.validate()
