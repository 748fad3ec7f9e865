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
from keras import layers

import fusion_core.layers  # noqa: F401 - registers the custom layers, so saved models load again
from fusion_core import registry
from fusion_core.config import MemberConfig, RunConfig
from fusion_core.layers import GroupedDense, MemberSlice
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


def build_member_group(inputs, config: MemberConfig, seeds: list[int]):
    """K identical members as grouped layers: one (784, K*units) product, then batched products.

    The same members as K `build_member` calls (same initial weights, an output `member_k` each),
    computed with fewer, larger matrix products. Returns (hidden activations, probabilities), a list
    of K each.
    """
    regularizer = keras.regularizers.L2(config.l2) if config.l2 > 0 else None
    k = len(seeds)
    h = inputs
    shape = zip(config.units_per_layer(), config.activations_per_layer(), strict=True)
    for i, (units, activation) in enumerate(shape):
        seeds_i = [s + i for s in seeds]
        h = GroupedDense(units, k, activation, seeds_i, regularizer, name=f"members_dense_{i}")(h)
        if config.dropout_rate > 0:
            h = layers.Dropout(config.dropout_rate, seed=seeds[0] + 100 + i, name=f"members_drop_{i}")(h)
    probs = GroupedDense(NUM_CLASSES, k, "softmax", [s + 99 for s in seeds], name="members_output")(h)
    hidden = [MemberSlice(j, name=f"{member_name(j)}_hidden")(h) for j in range(k)]
    return hidden, [MemberSlice(j, name=member_name(j))(probs) for j in range(k)]


def build_model(config: RunConfig, *, grouped: bool = False) -> keras.Model:
    """A Keras model whose outputs are every member's probabilities and the fused probabilities.

    The registry entry of the config's (type, rule) says what each member reads and builds the
    fusion's own layers (its `fuse` hook). `grouped=True` computes identical MLP members that all
    read the image with grouped layers (`build_member_group`), faster to train;
    `fusion_core.train.ungroup` turns it back into this layout.
    """
    config.validate()
    fusion = registry.fusion_of(config)
    graph = FusionGraph(keras.Input(shape=(INPUT_DIM,), name=INPUT_NAME), config.fusion, config.training.seed)
    members = config.member_configs()
    seeds = [member_seed(config.training.seed, k) for k in range(len(members))]
    if grouped and _groupable(fusion, members):
        graph.hidden, graph.probs = build_member_group(graph.inputs, members[0], seeds)
    else:
        for k, member in enumerate(members):
            hidden, probs = build_member(fusion.member_input(graph, k), member, k, seeds[k])
            graph.hidden.append(hidden)
            graph.probs.append(probs)
    outputs = {member_name(k): p for k, p in enumerate(graph.probs)}
    outputs[FUSED] = fusion.fuse(graph)
    return keras.Model(graph.inputs, outputs, name=registry.model_name(config.fusion))


def _groupable(fusion, members: list[MemberConfig]) -> bool:
    """Identical MLP members that all read the image (not a cascade's chain) can share grouped layers."""
    same = len(members) > 1 and all(m == members[0] for m in members)
    # GroupedDense draws Glorot slices only; N(0, 1) members are built one by one.
    same = same and members[0].initializer == "glorot_uniform"
    return same and not fusion.chains_members and isinstance(registry.member_kind(members[0]), registry.MLP)


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


def compile_model(
    model: keras.Model, config: RunConfig, *, jit_compile: bool | str = "auto", steps_per_execution: int = 1
) -> keras.Model:
    """A sparse cross-entropy loss and accuracy for every output; the losses are summed."""
    names = output_names(config)
    model.compile(
        optimizer=make_optimizer(config.training.optimizer, config.training.learning_rate),
        loss={n: "sparse_categorical_crossentropy" for n in names},
        metrics={n: ["accuracy"] for n in names},
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    return model


def load_model(path) -> keras.Model:
    """Load a .keras file saved by fusion_core (its custom layers are registered on import)."""
    return keras.saving.load_model(path, compile=False)
