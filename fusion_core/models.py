"""Build a fused model from a RunConfig.

Every model has one input (784 pixels in [0, 1]) and a dict of outputs: `member_0` ...
`member_{K-1}` (each member's class probabilities) and `fused` (the fusion's). One forward pass
gives all of them, and all members train jointly in one graph with a loss each. Paths from the
members into the fusion pass through `StopGradient`, so the fusion's loss trains only the fusion's
own weights. docs/FUSION.md has the formulas.
"""

from __future__ import annotations

import keras
from keras import layers

from fusion_core.config import MemberConfig, RunConfig
from fusion_core.layers import GroupedDense, HardVote, MemberSlice, StopGradient, WeightedAverage

NUM_CLASSES = 10
INPUT_DIM = 28 * 28
FUSED = "fused"
INPUT_NAME = "pixels"


def member_name(index: int) -> str:
    return f"member_{index}"


def output_names(config: RunConfig) -> list[str]:
    return [member_name(k) for k in range(config.fusion.num_members)] + [FUSED]


def member_seed(run_seed: int, index: int) -> int:
    """Members always start from different weights, even when they are otherwise identical."""
    return run_seed * 1009 + index * 7919 + 1


def build_member(inputs, config: MemberConfig, index: int, seed: int):
    """The article's stacked network: y = f(W1 x + b1), z = f(W2 y + b2), ..., softmax.

    Returns (last hidden activation, class probabilities).
    """
    regularizer = keras.regularizers.L2(config.l2) if config.l2 > 0 else None
    h = inputs
    shape = zip(config.units_per_layer(), config.activations_per_layer(), strict=True)
    for i, (units, activation) in enumerate(shape):
        h = layers.Dense(
            units,
            activation=activation,
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed + i),
            kernel_regularizer=regularizer,
            name=f"{member_name(index)}_dense_{i}",
        )(h)
        if config.dropout_rate > 0:
            h = layers.Dropout(
                config.dropout_rate, seed=seed + 100 + i, name=f"{member_name(index)}_drop_{i}"
            )(h)
    probs = layers.Dense(
        NUM_CLASSES,
        activation="softmax",
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 99),
        name=member_name(index),
    )(h)
    return h, probs


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

    `grouped=True` computes identical parallel members with grouped layers (`build_member_group`),
    faster to train; `fusion_core.train.ungroup` turns it back into this layout.
    """
    config.validate()
    fusion = config.fusion
    seed = config.training.seed
    inputs = keras.Input(shape=(INPUT_DIM,), name=INPUT_NAME)
    members = config.member_configs()
    hidden, probs = [], []

    if fusion.type == "serial" and fusion.rule == "cascade":
        # Stage k+1 sees the image together with stage k's answer and refines it.
        stage_input = inputs
        for k, member in enumerate(members):
            h, p = build_member(stage_input, member, k, member_seed(seed, k))
            hidden.append(h)
            probs.append(p)
            frozen = StopGradient(name=f"{member_name(k)}_handoff")(p)
            stage_input = layers.Concatenate(name=f"stage_{k + 1}_input")([inputs, frozen])
        fused = StopGradient(name=FUSED)(probs[-1])
        return _assemble(inputs, probs, fused, config)

    if grouped and len(members) > 1 and all(m == members[0] for m in members):
        seeds = [member_seed(seed, k) for k in range(len(members))]
        hidden, probs = build_member_group(inputs, members[0], seeds)
    else:
        for k, member in enumerate(members):
            h, p = build_member(inputs, member, k, member_seed(seed, k))
            hidden.append(h)
            probs.append(p)
    frozen = [StopGradient(name=f"{member_name(k)}_frozen")(p) for k, p in enumerate(probs)]

    if fusion.type == "single":
        fused = StopGradient(name=FUSED)(probs[0])
    elif fusion.type == "parallel" and fusion.rule == "soft":
        fused = layers.Average(name=FUSED)(frozen) if len(frozen) > 1 else _identity(frozen[0])
    elif fusion.type == "parallel" and fusion.rule == "hard":
        fused = HardVote(name=FUSED)(frozen)
    elif fusion.type == "parallel" and fusion.rule == "weighted":
        fused = WeightedAverage(name=FUSED)(frozen)
    elif fusion.type == "parallel" and fusion.rule == "feature":
        features = [StopGradient(name=f"{member_name(k)}_features")(h) for k, h in enumerate(hidden)]
        joined = layers.Concatenate(name="features")(features) if len(features) > 1 else features[0]
        fused = layers.Dense(NUM_CLASSES, activation="softmax", name=FUSED, **_init(seed, 501))(joined)
    elif fusion.type == "serial" and fusion.rule == "stacking":
        # A logistic-regression meta-learner on the members' probabilities (scikit-learn's default).
        joined = layers.Concatenate(name="member_probs")(frozen) if len(frozen) > 1 else frozen[0]
        fused = layers.Dense(NUM_CLASSES, activation="softmax", name=FUSED, **_init(seed, 502))(joined)
    elif fusion.type == "hybrid":
        # A parallel group feeding a serial meta-network that also sees the image.
        joined = layers.Concatenate(name="meta_input")([inputs, *frozen])
        h = layers.Dense(fusion.meta_units, activation="relu", name="meta_dense", **_init(seed, 503))(joined)
        fused = layers.Dense(NUM_CLASSES, activation="softmax", name=FUSED, **_init(seed, 504))(h)
    else:  # validate() makes this unreachable
        raise ValueError(f"Unsupported fusion: type={fusion.type!r}, rule={fusion.rule!r}")
    return _assemble(inputs, probs, fused, config)


def _init(seed: int, offset: int) -> dict:
    return {"kernel_initializer": keras.initializers.GlorotUniform(seed=seed * 1009 + offset)}


def _identity(tensor):
    return layers.Identity(name=FUSED)(tensor)


def _assemble(inputs, probs, fused, config: RunConfig) -> keras.Model:
    outputs = {member_name(k): p for k, p in enumerate(probs)}
    outputs[FUSED] = fused
    name = f"{config.fusion.type}_{config.fusion.rule}_x{config.fusion.num_members}"
    return keras.Model(inputs, outputs, name=name)


def uses_holdout(config: RunConfig) -> bool:
    """Stacking and hybrid train their meta-learner on data the members did not train on."""
    return (
        config.fusion.type == "serial" and config.fusion.rule == "stacking"
    ) or config.fusion.type == "hybrid"


def count_params(model: keras.Model, num_members: int) -> dict[str, int]:
    """Parameters per member and for the fusion's own weights (`fused`), plus `total`."""
    counts = {member_name(k): 0 for k in range(num_members)}
    total = 0
    for layer in model.layers:
        n = layer.count_params() if layer.weights else 0
        total += n
        owner = layer.name.split("_dense_")[0].split("_drop_")[0]
        if owner in counts:
            counts[owner] += n
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
