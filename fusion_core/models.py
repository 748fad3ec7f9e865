"""Build a fused model from a RunConfig.

Every model has one input (784 pixels in [0, 1]) and a dict of outputs: `member_0` ...
`member_{K-1}` (each member's class probabilities) and `fused` (the fusion's). One forward pass
gives all of them, and all members train jointly in one graph with a loss each. Paths from the
members into the fusion pass through `StopGradient`, so the fusion's loss trains only the fusion's
own weights. docs/FUSION.md has the formulas; fusion_core/registry.py holds each fusion's and
each member kind's facts and Keras hooks.
"""

from __future__ import annotations

import keras

import fusion_core.layers  # noqa: F401 - registers the custom layers, so saved models load again
from fusion_core import registry
from fusion_core.config import MemberConfig, RunConfig
from fusion_core.registry import (  # noqa: F401 - the names every model shares, read here by callers
    FUSED,
    INPUT_DIM,
    INPUT_NAME,
    NUM_CLASSES,
    FusionGraph,
    member_name,
    member_seed,
)


def output_names(config: RunConfig) -> list[str]:
    return registry.output_names(config.fusion.num_members)


def build_member(inputs, config: MemberConfig, index: int, seed: int):
    """One member, built by its kind's registry entry. Returns (last hidden activation, probabilities)."""
    return registry.member_kind(config).build(inputs, config, index, seed)


def build_model(config: RunConfig) -> keras.Model:
    """A Keras model whose outputs are every member's probabilities and the fused probabilities.

    The registry entry of the config's (type, rule) says what each member reads and builds the
    fusion's own layers (its `fuse` hook).
    """
    config.validate()
    fusion = registry.fusion_of(config)
    graph = FusionGraph(keras.Input(shape=(INPUT_DIM,), name=INPUT_NAME), config.fusion, config.training.seed)
    for k, member in enumerate(config.member_configs()):
        hidden, probs = build_member(
            fusion.member_input(graph, k), member, k, member_seed(config.training.seed, k)
        )
        graph.hidden.append(hidden)
        graph.probs.append(probs)
    outputs = {member_name(k): p for k, p in enumerate(graph.probs)}
    outputs[FUSED] = fusion.fuse(graph)
    return keras.Model(graph.inputs, outputs, name=registry.model_name(config.fusion))


def uses_holdout(config: RunConfig) -> bool:
    """Stacking and hybrid train their meta-learner on data the members did not train on."""
    return registry.fusion_of(config).uses_holdout


def count_params(model: keras.Model, num_members: int) -> dict[str, int]:
    """Parameters per member and for the fusion's own weights (`fused`), plus `total`, read from a
    built model (registry.parameter_counts predicts the same numbers from a config)."""
    counts = {member_name(k): 0 for k in range(num_members)}
    total = 0
    for layer in model.layers:
        n = layer.count_params() if layer.weights else 0
        total += n
        owner = registry.layer_owner(layer.name)
        if owner is not None and owner < num_members:
            counts[member_name(owner)] += n
    counts[FUSED] = total - sum(counts.values())
    counts["total"] = total
    return counts


def make_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=0.9)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate)
    raise ValueError(f"Unknown optimizer. Expected adam, sgd or rmsprop. Received: optimizer={name!r}")


def compile_model(model: keras.Model, config: RunConfig, *, jit_compile: bool | str = "auto") -> keras.Model:
    """A sparse cross-entropy loss and accuracy for every output; the losses are summed."""
    names = output_names(config)
    model.compile(
        optimizer=make_optimizer(config.training.optimizer, config.training.learning_rate),
        loss={n: "sparse_categorical_crossentropy" for n in names},
        metrics={n: ["accuracy"] for n in names},
        jit_compile=jit_compile,
    )
    return model


def load_model(path) -> keras.Model:
    """Load a .keras file saved by fusion_core (its custom layers are registered on import)."""
    return keras.saving.load_model(path, compile=False)
