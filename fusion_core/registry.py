"""Everything Fusion Lab knows about its fusions and its member networks, in one place.

Each fusion (type, rule) is one small class: its flags, the text the UI shows for it, its own
parameter count, its formula, and one hook that builds its Keras layers (`fuse`, like Keras's
`Merge._merge_function`). Each member kind is one entry too: its parameter count, the rows the
diagram shows, its formula and its Keras builder. Models, diagrams, uploads, experiments, charts and
tests all read from here, so adding a rule or a member kind touches this module (and, when Keras
has no layer for it, `fusion_core/layers.py`), nothing else. docs/ARCHITECTURE.md walks through it.

Importing this module is cheap and never imports Keras: the build hooks import it when they run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # only for type hints: config.py reads FUSION_RULES from here
    from fusion_core.config import FusionConfig, MemberConfig, RunConfig

# -- names every model shares -----------------------------------------------------------------------

INPUT_DIM = 28 * 28  # the flattened MNIST image
NUM_CLASSES = 10
INPUT_NAME = "pixels"
FUSED = "fused"  # the fused output
HEAD = "head"  # a learned fusion's own output layer, before HeadOrVote (fusion_core/heads.py)
MEMBER_PREFIX = "member_"  # member k's output is member_<k>; its layers are member_<k>_<something>
_MEMBER_OUTPUT = re.compile(r"member_(\d+)")
_MEMBER_LAYER = re.compile(r"member_(\d+)(?:_.*)?")


def member_name(index: int) -> str:
    """The name of member `index`'s output (and the prefix of its layers): 'member_3'."""
    return f"{MEMBER_PREFIX}{index}"


def member_index(name: str) -> int | None:
    """'member_3' -> 3; any other name (including 'fused') -> None."""
    match = _MEMBER_OUTPUT.fullmatch(name)
    return int(match.group(1)) if match else None


def layer_owner(layer_name: str) -> int | None:
    """The member a layer belongs to ('member_2_dense_0' -> 2), or None for the fusion's layers."""
    match = _MEMBER_LAYER.fullmatch(layer_name)
    return int(match.group(1)) if match else None


def output_names(num_members: int) -> list[str]:
    """Every output of a model with `num_members` members: member_0 ... member_{K-1}, then fused."""
    return [member_name(k) for k in range(num_members)] + [FUSED]


def output_order(name: str) -> tuple[int, int, str]:
    """A sort key: members by number (member_10 after member_9), other names, the fused output last."""
    index = member_index(name)
    if index is not None:
        return (0, index, name)
    return (2 if name == FUSED else 1, 0, name)


def member_seed(run_seed: int, index: int) -> int:
    """Members always start from different weights, even when they are otherwise identical."""
    return run_seed * 1009 + index * 7919 + 1


def head_seed(run_seed: int, offset: int) -> int:
    """The initial weights of a fusion's own layers: one fixed offset per layer."""
    return run_seed * 1009 + offset


# -- member kinds -----------------------------------------------------------------------------------


class MemberKind:
    """One kind of member network. Subclasses fill in the hooks; `build` is the only Keras one.

    A member reads a flat input of `input_dim` values and ends in a `NUM_CLASSES`-way softmax layer
    named `member_<k>`; every other layer it builds is named `member_<k>_<something>`, which is how
    parameters are attributed to it.
    """

    name: ClassVar[str]
    label: ClassVar[str]  # what the UI calls it: 'CNN'
    cost_ratio: ClassVar[float] = 1.0  # its default shape's arithmetic per image over the article's MLP's
    xla_on_cpu: ClassVar[bool] = True  # TensorFlow's XLA makes it faster on a CPU (bench/bench_kinds.py)

    def layer_params(self, member: MemberConfig, input_dim: int) -> list[int]:
        """Weights plus biases of each layer that has any, the softmax layer last."""
        raise NotImplementedError

    def count_params(self, member: MemberConfig, input_dim: int = INPUT_DIM) -> int:
        return sum(self.layer_params(member, input_dim))

    def feature_width(self, member: MemberConfig) -> int:
        """The width of the last hidden representation (what a feature head reads)."""
        raise NotImplementedError

    def macs(self, member: MemberConfig) -> int:
        """Multiply-adds of one forward pass over one image."""
        return self.count_params(member)

    def activation_values(self, member: MemberConfig) -> int:
        """Values one image's forward pass keeps for the backward pass: the input and every layer's output."""
        return INPUT_DIM + sum(member.units_per_layer()) + NUM_CLASSES

    def training_work(self, member: MemberConfig, input_dim: int = INPUT_DIM) -> float:
        """What one image costs to train, in parameters of a Dense network that costs as much.

        A Dense network's cost follows its parameters; convolutions and recurrences reuse their
        weights at every position, so their cost is the measured `cost_ratio` of the default shape
        (times the article's network), scaled by multiply-adds for other shapes.
        """
        if self.cost_ratio == 1.0:
            return float(self.count_params(member, input_dim))
        from fusion_core.config import MemberConfig as Config

        reference = self.macs(Config.of_kind(self.name))
        return self.cost_ratio * ARTICLE_PARAMS * self.macs(member) / reference

    def layer_parts(self, member: MemberConfig) -> list[tuple[str, dict[str, Any]]]:
        """Each `layer_params` entry as a code and its values, ('dense', {units, activation}), which
        a page words in the visitor's language (LAYER_LABELS holds the English)."""
        raise NotImplementedError

    def layer_labels(self, member: MemberConfig) -> list[str]:
        """A short label per `layer_params` entry, for the diagram: 'Dense 512 relu'."""
        return [LAYER_LABELS[code].format(**values) for code, values in self.layer_parts(member)]

    def formula(self, member: MemberConfig, *, sup: str, out: str, source: str, input_dims: str) -> list[str]:
        """KaTeX lines (for an `aligned` block) from `source` to the probabilities `out`."""
        raise NotImplementedError

    def build(self, inputs: Any, member: MemberConfig, index: int, seed: int) -> tuple[Any, Any]:
        """Keras layers on `inputs`; returns (last hidden activation, class probabilities)."""
        raise NotImplementedError


# The English of each layer code of `MemberKind.layer_parts` (the UI's catalog has the same words).
LAYER_LABELS = {
    "dense": "Dense {units} {activation}",
    "conv": "Conv {kernel}×{kernel}, {filters} {activation} + pool 2×2",
    "lstm": "LSTM {units} over the {rows} rows",
}


class MLP(MemberKind):
    """The article's stacked network: y = f(W1 x + b1), z = f(W2 y + b2), ..., softmax."""

    name, label = "mlp", "MLP"

    def layer_params(self, member: MemberConfig, input_dim: int) -> list[int]:
        sizes = [input_dim, *member.units_per_layer(), NUM_CLASSES]
        return [(n_in + 1) * n_out for n_in, n_out in pairwise(sizes)]

    def feature_width(self, member: MemberConfig) -> int:
        return member.units_per_layer()[-1]

    def layer_parts(self, member: MemberConfig) -> list[tuple[str, dict[str, Any]]]:
        shape = zip(member.units_per_layer(), member.activations_per_layer(), strict=True)
        dense = [("dense", {"units": units, "activation": act}) for units, act in shape]
        return [*dense, ("dense", {"units": NUM_CLASSES, "activation": "softmax"})]

    def formula(self, member: MemberConfig, *, sup: str, out: str, source: str, input_dims: str) -> list[str]:
        lines, prev, prev_dim = [], source, input_dims
        units, acts = member.units_per_layer(), member.activations_per_layer()
        for i, (u, act) in enumerate(zip(units, acts, strict=True), start=1):
            lines.append(
                rf"h_{{{i}}}{sup} &= \mathrm{{{act}}}\!\left(W_{{{i}}}{sup} {prev} + b_{{{i}}}{sup}\right), &"
                rf"W_{{{i}}}{sup} &\in \mathbb{{R}}^{{{u}\times {prev_dim}}}"
            )
            prev, prev_dim = f"h_{{{i}}}{sup}", str(u)
        n = len(units) + 1
        lines.append(
            rf"{out} &= \mathrm{{softmax}}\!\left(W_{{{n}}}{sup} {prev} + b_{{{n}}}{sup}\right), &"
            rf"W_{{{n}}}{sup} &\in \mathbb{{R}}^{{{NUM_CLASSES}\times {prev_dim}}}"
        )
        return lines

    def build(self, inputs: Any, member: MemberConfig, index: int, seed: int) -> tuple[Any, Any]:
        h = _dense_stack(inputs, member, member_name(index), seed)
        return h, _softmax(h, member_name(index), seed, member.initializer)


# The article's network (784-512-512-10): the unit in which other kinds' training cost is counted.
ARTICLE_PARAMS = (INPUT_DIM + 1) * 512 + (512 + 1) * 512 + (512 + 1) * NUM_CLASSES
IMAGE_SIDE = 28  # the image is 28 rows of 28 pixels
KERNEL = 5  # a CNN's convolutions are 5x5 ("same" padding), each followed by a 2x2 max-pooling
CONV_BLOCKS = 2  # `filters`, then 2 * `filters`


def _dense_stack(h: Any, member: MemberConfig, prefix: str, seed: int) -> Any:
    """The hidden Dense layers `member_<k>_dense_<i>` (each with its dropout), as in the article."""
    import keras
    from keras import layers

    regularizer = keras.regularizers.L2(member.l2) if member.l2 > 0 else None
    shape = zip(member.units_per_layer(), member.activations_per_layer(), strict=True)
    for i, (units, activation) in enumerate(shape):
        h = layers.Dense(
            units,
            activation=activation,
            kernel_initializer=_kernel_initializer(member.initializer, seed + i),
            kernel_regularizer=regularizer,
            name=f"{prefix}_dense_{i}",
        )(h)
        if member.dropout_rate > 0:
            h = layers.Dropout(member.dropout_rate, seed=seed + 100 + i, name=f"{prefix}_drop_{i}")(h)
    return h


def _kernel_initializer(name: str, seed: int) -> Any:
    """A member's Dense kernel start: Glorot uniform, or 'normal' = N(0, 1) as in Nielsen's book."""
    import keras

    if name == "normal":
        return keras.initializers.RandomNormal(mean=0.0, stddev=1.0, seed=seed)
    return keras.initializers.GlorotUniform(seed=seed)


def _softmax(h: Any, prefix: str, seed: int, initializer: str = "glorot_uniform") -> Any:
    """The member's output: a 10-way softmax layer named `member_<k>`."""
    from keras import layers

    return layers.Dense(
        NUM_CLASSES,
        activation="softmax",
        kernel_initializer=_kernel_initializer(initializer, seed + 99),
        name=prefix,
    )(h)


def _image_and_extra(inputs: Any, prefix: str, shape: tuple[int, ...]) -> tuple[Any, Any]:
    """The 784 pixels as an image of `shape`, and what a cascade stage reads besides (or None).

    Built from Keras's own Reshape and Cropping1D layers (no Lambda), so a saved model loads in
    safe mode; the extra values (the previous stage's answer) join the member's last layers.
    """
    from keras import layers

    width = int(inputs.shape[-1])
    if width == INPUT_DIM:
        return layers.Reshape(shape, name=f"{prefix}_image")(inputs), None
    values = layers.Reshape((width, 1), name=f"{prefix}_values")(inputs)
    pixels = layers.Cropping1D((0, width - INPUT_DIM), name=f"{prefix}_pixels")(values)
    extra = layers.Cropping1D((INPUT_DIM, 0), name=f"{prefix}_extra_values")(values)
    return layers.Reshape(shape, name=f"{prefix}_image")(pixels), layers.Flatten(name=f"{prefix}_extra")(
        extra
    )


def _chained_answer(source: str) -> str | None:
    """The previous stage's answer a chained member also reads ('z_k' -> 'p_{k-1}'), or None."""
    if source in ("x", "z_1"):
        return None
    k = source.removeprefix("z_")
    return f"p_{{{k}-1}}" if k == "k" else f"p_{{{int(k) - 1}}}"


class CNN(MemberKind):
    """A small convolutional network: conv5x5(f)-pool-conv5x5(2f)-pool, then a Dense head, softmax.

    Default shape (conv 16, conv 32, Dense 128): its arithmetic per image measured at 2.7x the
    article's MLP's on two CPU cores with TensorFlow (bench/bench_step_cost.py; a whole epoch at
    batch 128 with the fixed costs of each step: 1.8x to 2.2x, docs/PERFORMANCE.md).
    """

    name, label = "cnn", "CNN"
    cost_ratio = 2.7  # its default shape's arithmetic per image over the article's MLP's, measured
    # Measured on 2 CPU cores with TensorFlow: an XLA-compiled epoch takes about 2x as long as a
    # plain one (7.6x the MLP's instead of 1.9x); XLA runs convolutions as slowly as JAX does here.
    xla_on_cpu = False

    def conv_filters(self, member: MemberConfig) -> list[int]:
        return [member.filters * 2**i for i in range(CONV_BLOCKS)]

    def flat_width(self, member: MemberConfig) -> int:
        side = IMAGE_SIDE // 2**CONV_BLOCKS
        return side * side * self.conv_filters(member)[-1]

    def layer_params(self, member: MemberConfig, input_dim: int) -> list[int]:
        channels = [1, *self.conv_filters(member)]
        convs = [(KERNEL * KERNEL * c_in + 1) * c_out for c_in, c_out in pairwise(channels)]
        extra = input_dim - INPUT_DIM
        sizes = [self.flat_width(member) + extra, *member.units_per_layer(), NUM_CLASSES]
        return convs + [(n_in + 1) * n_out for n_in, n_out in pairwise(sizes)]

    def feature_width(self, member: MemberConfig) -> int:
        return member.units_per_layer()[-1]

    def layer_parts(self, member: MemberConfig) -> list[tuple[str, dict[str, Any]]]:
        act = member.activations_per_layer()[0]
        convs = [
            ("conv", {"kernel": KERNEL, "filters": f, "activation": act}) for f in self.conv_filters(member)
        ]
        return convs + MLP().layer_parts(member)

    def activation_values(self, member: MemberConfig) -> int:
        side, total = IMAGE_SIDE, INPUT_DIM
        for f in self.conv_filters(member):  # each convolution's output, then its pooled output
            total += side * side * f + (side // 2) ** 2 * f
            side //= 2
        return total + sum(member.units_per_layer()) + NUM_CLASSES

    def macs(self, member: MemberConfig) -> int:
        """Multiply-adds per image: the convolutions dominate, the Dense head adds a little."""
        side, channels, total = IMAGE_SIDE, 1, 0
        for f in self.conv_filters(member):
            total += side * side * KERNEL * KERNEL * channels * f
            side, channels = side // 2, f
        return total + sum(self.layer_params(member, INPUT_DIM)[CONV_BLOCKS:])

    def formula(self, member: MemberConfig, *, sup: str, out: str, source: str, input_dims: str) -> list[str]:
        act = member.activations_per_layer()[0]
        side, channels = IMAGE_SIDE, 1
        lines = [
            rf"X{sup} &= \mathrm{{reshape}}_{{{side}\times {side}}}(x), &"
            rf"X{sup} &\in \mathbb{{R}}^{{{side}\times {side}\times 1}}"
        ]
        prev = f"X{sup}"
        for i, f in enumerate(self.conv_filters(member), start=1):
            side //= 2
            lines.append(
                rf"H_{{{i}}}{sup} &= \mathrm{{maxpool}}_{{2\times 2}}\!\left(\mathrm{{{act}}}"
                rf"\left(K_{{{i}}}{sup} * {prev} + b_{{{i}}}{sup}\right)\right), &"
                rf"K_{{{i}}}{sup} &\in \mathbb{{R}}^{{{KERNEL}\times {KERNEL}\times {channels}\times {f}}},"
                rf"\; H_{{{i}}}{sup} \in \mathbb{{R}}^{{{side}\times {side}\times {f}}}"
            )
            prev, channels = f"H_{{{i}}}{sup}", f
        flat = f"\\mathrm{{vec}}({prev})"
        extra = _chained_answer(source)
        width = str(self.flat_width(member))
        if extra is not None:
            flat = f"[{flat};\\, {extra}]"
            width = f"{width} + {NUM_CLASSES}"
        mlp = MLP().formula(member, sup=sup, out=out, source=flat, input_dims=width)
        # The Dense head's layers are numbered after the convolutions: W_3, W_4, ...
        return lines + [_renumber(line, CONV_BLOCKS) for line in mlp]

    def build(self, inputs: Any, member: MemberConfig, index: int, seed: int) -> tuple[Any, Any]:
        import keras
        from keras import layers

        prefix = member_name(index)
        regularizer = keras.regularizers.L2(member.l2) if member.l2 > 0 else None
        h, extra = _image_and_extra(inputs, prefix, (IMAGE_SIDE, IMAGE_SIDE, 1))
        act = member.activations_per_layer()[0]
        for i, filters in enumerate(self.conv_filters(member)):
            h = layers.Conv2D(
                filters,
                KERNEL,
                padding="same",
                activation=act,
                kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 200 + i),
                kernel_regularizer=regularizer,
                name=f"{prefix}_conv_{i}",
            )(h)
            h = layers.MaxPooling2D(2, name=f"{prefix}_pool_{i}")(h)
            if member.dropout_rate > 0:
                h = layers.Dropout(member.dropout_rate, seed=seed + 300 + i, name=f"{prefix}_conv_drop_{i}")(
                    h
                )
        h = layers.Flatten(name=f"{prefix}_flatten")(h)
        if extra is not None:
            h = layers.Concatenate(name=f"{prefix}_join")([h, extra])
        h = _dense_stack(h, member, prefix, seed)
        return h, _softmax(h, prefix, seed)


def _renumber(line: str, offset: int) -> str:
    """'W_{1}' -> 'W_{3}' (and h_, b_): the MLP head's indices, after `offset` convolution blocks."""
    return re.sub(r"([Whb])_\{(\d+)\}", lambda m: f"{m.group(1)}_{{{int(m.group(2)) + offset}}}", line)


class LSTM(MemberKind):
    """Reads the digit as a sequence: 28 rows of 28 pixels, top to bottom, through LSTM(units), softmax.

    Default shape LSTM(64): its arithmetic per image measured at 1.9x the article's MLP's on two
    CPU cores with TensorFlow (bench/bench_step_cost.py; a whole epoch with the fixed costs of
    each step: 1.4x to 1.7x, docs/PERFORMANCE.md).
    """

    name, label = "lstm", "LSTM"
    cost_ratio = 1.9  # its default shape's arithmetic per image over the article's MLP's, measured

    def layer_params(self, member: MemberConfig, input_dim: int) -> list[int]:
        sizes = [IMAGE_SIDE, *member.units_per_layer()]
        cells = [4 * (n_in * u + u * u + u) for n_in, u in pairwise(sizes)]
        extra = input_dim - INPUT_DIM
        return cells + [(sizes[-1] + extra + 1) * NUM_CLASSES]

    def feature_width(self, member: MemberConfig) -> int:
        return member.units_per_layer()[-1]

    def layer_parts(self, member: MemberConfig) -> list[tuple[str, dict[str, Any]]]:
        cells = [("lstm", {"units": u, "rows": IMAGE_SIDE}) for u in member.units_per_layer()]
        return [*cells, ("dense", {"units": NUM_CLASSES, "activation": "softmax"})]

    def activation_values(self, member: MemberConfig) -> int:
        # Every row's four gates, cell state and output are kept for backpropagation through time.
        return INPUT_DIM + IMAGE_SIDE * 6 * sum(member.units_per_layer()) + NUM_CLASSES

    def macs(self, member: MemberConfig) -> int:
        """Multiply-adds per image: every cell runs once per row."""
        return (
            IMAGE_SIDE * sum(self.layer_params(member, INPUT_DIM)[:-1])
            + self.layer_params(member, INPUT_DIM)[-1]
        )

    def formula(self, member: MemberConfig, *, sup: str, out: str, source: str, input_dims: str) -> list[str]:
        units, acts = member.units_per_layer(), member.activations_per_layer()
        u, act, n = units[0], acts[0], IMAGE_SIDE
        gate = rf"W_{{\ast}}{sup} x_t + U_{{\ast}}{sup} h_{{t-1}}{sup} + b_{{\ast}}{sup}"
        shapes = rf"\mathbb{{R}}^{{{u}\times {n}}},\; U_{{\ast}}{sup} \in \mathbb{{R}}^{{{u}\times {u}}}"
        lines = [
            rf"x_t &= \text{{row }} t \text{{ of the image}}, \; t = 1, \dots, {n}, &"
            rf"x_t &\in \mathbb{{R}}^{{{n}}},\; h_0{sup} = c_0{sup} = 0",
            rf"i_t, f_t, o_t &= \sigma\!\left({gate}\right) \text{{ for }} \ast = i, f, o, &"
            rf"W_{{\ast}}{sup} &\in {shapes}",
            rf"g_t &= \mathrm{{{act}}}\!\left({gate.replace(chr(92) + 'ast', 'g')}\right), &"
            rf"W_g{sup} &\in {shapes.replace(chr(92) + 'ast', 'g')}",
            rf"c_t{sup} &= f_t \odot c_{{t-1}}{sup} + i_t \odot g_t, \quad "
            rf"h_t{sup} = o_t \odot \mathrm{{{act}}}(c_t{sup}), &"
            rf"c_t{sup}, h_t{sup} &\in \mathbb{{R}}^{{{u}}}",
        ]
        last, width = rf"h_{{{n}}}{sup}", str(units[-1])
        for i, (u_i, u_prev) in enumerate(zip(units[1:], units, strict=False), start=2):
            lines.append(
                rf"h^{{[{i}]}}_t &= \mathrm{{LSTM}}_{{{i}}}\!\left(h^{{[{i - 1}]}}_t\right), &"
                rf"W_{{\ast}}^{{[{i}]}} &\in \mathbb{{R}}^{{{u_i}\times {u_prev}}}"
            )
            last = rf"h^{{[{i}]}}_{{{n}}}"
        extra = _chained_answer(source)
        if extra is not None:
            last, width = f"[{last};\\, {extra}]", f"{width} + {NUM_CLASSES}"
        lines.append(
            rf"{out} &= \mathrm{{softmax}}\!\left(W_o{sup} {last} + b_o{sup}\right), &"
            rf"W_o{sup} &\in \mathbb{{R}}^{{{NUM_CLASSES}\times {width}}}"
        )
        return lines

    def build(self, inputs: Any, member: MemberConfig, index: int, seed: int) -> tuple[Any, Any]:
        import keras
        from keras import layers

        prefix = member_name(index)
        regularizer = keras.regularizers.L2(member.l2) if member.l2 > 0 else None
        h, extra = _image_and_extra(inputs, prefix, (IMAGE_SIDE, IMAGE_SIDE))  # (rows, pixels per row)
        shape = list(zip(member.units_per_layer(), member.activations_per_layer(), strict=True))
        for i, (units, activation) in enumerate(shape):
            h = layers.LSTM(
                units,
                activation=activation,
                return_sequences=i < len(shape) - 1,  # the last LSTM hands on its final state only
                kernel_initializer=keras.initializers.GlorotUniform(seed=seed + i),
                recurrent_initializer=keras.initializers.Orthogonal(seed=seed + 50 + i),
                kernel_regularizer=regularizer,
                name=f"{prefix}_lstm_{i}",
            )(h)
            if member.dropout_rate > 0:
                h = layers.Dropout(member.dropout_rate, seed=seed + 100 + i, name=f"{prefix}_drop_{i}")(h)
        hidden = h
        if extra is not None:
            h = layers.Concatenate(name=f"{prefix}_join")([h, extra])
        return hidden, _softmax(h, prefix, seed)


DEFAULT_MEMBER_KIND = "mlp"
MEMBER_KINDS: dict[str, MemberKind] = {kind.name: kind for kind in (MLP(), CNN(), LSTM())}
MEMBER_KIND_NAMES: tuple[str, ...] = tuple(MEMBER_KINDS)


def member_kind(member: MemberConfig) -> MemberKind:
    """The entry for a member's kind (a MemberConfig without a `kind` field is the article's MLP)."""
    name = getattr(member, "kind", DEFAULT_MEMBER_KIND)
    if name not in MEMBER_KINDS:
        known = ", ".join(map(repr, MEMBER_KINDS))
        raise ValueError(f"Unknown member kind. Expected one of {known}. Received: kind={name!r}")
    return MEMBER_KINDS[name]


# -- fusions ----------------------------------------------------------------------------------------


@dataclass
class FusionGraph:
    """What a fusion's `fuse` hook reads: the model's input and every member's tensors."""

    inputs: Any  # the image, (batch, INPUT_DIM)
    fusion: FusionConfig
    seed: int  # the run's seed
    probs: list[Any] = field(default_factory=list)  # member k's class probabilities
    hidden: list[Any] = field(default_factory=list)  # member k's last hidden activation
    _frozen: list[Any] | None = field(default=None, init=False, repr=False)

    @property
    def frozen(self) -> list[Any]:
        """The members' probabilities behind StopGradient: the fusion's loss trains only the fusion."""
        if self._frozen is None:
            from fusion_core.layers import StopGradient

            self._frozen = [
                StopGradient(name=f"{member_name(k)}_frozen")(p) for k, p in enumerate(self.probs)
            ]
        return self._frozen

    def head_initializer(self, offset: int) -> dict[str, Any]:
        """Keyword arguments that seed a fusion layer's kernel (one fixed `offset` per layer)."""
        import keras

        return {"kernel_initializer": keras.initializers.GlorotUniform(seed=head_seed(self.seed, offset))}


def _concat(tensors: list[Any], name: str) -> Any:
    from keras import layers

    return layers.Concatenate(name=name)(tensors) if len(tensors) > 1 else tensors[0]


def _head_or_vote(graph: FusionGraph, head: Any) -> Any:
    """The fused output of a learned head: the head's answer, or the soft vote if it is set aside."""
    from fusion_core.layers import HeadOrVote

    return HeadOrVote(name=FUSED)([head, *graph.frozen])


class Fusion:
    """One fusion (type, rule). A subclass sets the class attributes and overrides what differs.

    `label` and `diagram` are the English texts of `description_key` and `diagram_key` (the UI
    registers them in its catalog; `diagram` may use {n}, the fusion's own parameters, and {units}).
    """

    type: ClassVar[str]
    rule: ClassVar[str]
    label: ClassVar[str]
    diagram: ClassVar[str]
    uses_holdout: ClassVar[bool] = False  # its fusion learns on training images the members never see
    trained_head: ClassVar[bool] = False  # its fusion is a trained network (Dense layers of its own)
    learned_head: ClassVar[bool] = False  # its weights are fitted after the members (fusion_core/heads.py)
    is_vote: ClassVar[bool] = False  # a fixed vote over the members' answers, no weights at all
    reads_features: ClassVar[bool] = False  # reads the members' last hidden layers, not their answers
    sees_input: ClassVar[bool] = False  # the fusion reads the image as well
    chains_members: ClassVar[bool] = False  # member k+1 reads the image and member k's answer
    uses_meta_units: ClassVar[bool] = False  # FusionConfig.meta_units sets its hidden width
    one_member: ClassVar[bool] = False  # exactly one member, no fusion

    @property
    def key(self) -> tuple[str, str]:
        return (self.type, self.rule)

    @property
    def description_key(self) -> str:
        return f"config.rule.{self.rule}"

    @property
    def diagram_key(self) -> str:
        return f"dot.fusion.{self.rule}"

    def member_input_dim(self, index: int) -> int:
        """The width of what member `index` reads."""
        return INPUT_DIM

    def member_input(self, graph: FusionGraph, index: int) -> Any:
        """The tensor member `index` reads (built before member `index`, after the ones before it)."""
        return graph.inputs

    def fusion_params(self, fusion: FusionConfig, members: list[MemberConfig]) -> int:
        """The fusion's own trainable parameters (0 for a vote)."""
        return 0

    def formula_prelude(self, num_members: int) -> list[str]:
        """KaTeX lines written before the members' (what they read, when it is not just x)."""
        return []

    def formula(self, fusion: FusionConfig, members: list[MemberConfig]) -> list[str]:
        """KaTeX lines from the members' p_k to the fused p."""
        raise NotImplementedError

    def fuse(self, graph: FusionGraph) -> Any:
        """The Keras hook: the fused probabilities, from a layer named FUSED (a learned head's last
        layer is named HEAD and feeds `_head_or_vote`, whose HeadOrVote layer is named FUSED)."""
        raise NotImplementedError


class Single(Fusion):
    type, rule = "single", "none"
    label = "None: one network"
    diagram = "One network"
    one_member = True

    def formula(self, fusion: FusionConfig, members: list[MemberConfig]) -> list[str]:
        return []

    def fuse(self, graph: FusionGraph) -> Any:
        from fusion_core.layers import StopGradient

        return StopGradient(name=FUSED)(graph.probs[0])


class SoftVoting(Fusion):
    type, rule = "parallel", "soft"
    label = "Soft vote: average the probabilities"
    diagram = "Soft vote\np = mean of the p_k"
    is_vote = True

    def formula(self, fusion: FusionConfig, members: list[MemberConfig]) -> list[str]:
        k = fusion.num_members
        return [rf"p &= \frac{{1}}{{{k}}} \sum_{{k=1}}^{{{k}}} p_k"]

    def fuse(self, graph: FusionGraph) -> Any:
        from keras import layers

        if len(graph.frozen) == 1:  # Keras's Average needs two inputs
            return layers.Identity(name=FUSED)(graph.frozen[0])
        return layers.Average(name=FUSED)(graph.frozen)


class HardVoting(Fusion):
    type, rule = "parallel", "hard"
    label = "Hard vote: majority of the members' labels"
    diagram = "Hard vote\nmajority of the labels"
    is_vote = True

    def formula(self, fusion: FusionConfig, members: list[MemberConfig]) -> list[str]:
        k = fusion.num_members
        return [
            rf"v_c &= \#\{{k : \arg\max_j p_{{k,j}} = c\}}, \quad "
            rf"\bar p = \tfrac{{1}}{{{k}}}\textstyle\sum_k p_k",
            rf"p &= \frac{{v + \tfrac12 \bar p}}{{{k} + \tfrac12}}, \quad \hat y = \arg\max_c v_c",
        ]

    def fuse(self, graph: FusionGraph) -> Any:
        from fusion_core import layers

        return layers.HardVote(name=FUSED)(graph.frozen)


class LearnedWeights(Fusion):
    type, rule = "parallel", "weighted"
    label = "Learned weights: a trained weight per member"
    diagram = "Learned weights\np = Σ w_k p_k · {n} params"
    uses_holdout = True
    learned_head = True

    def fusion_params(self, fusion: FusionConfig, members: list[MemberConfig]) -> int:
        return len(members)

    def formula(self, fusion: FusionConfig, members: list[MemberConfig]) -> list[str]:
        k = fusion.num_members
        return [
            rf"p &= \sum_{{k=1}}^{{{k}}} w_k\, p_k, \quad w = \mathrm{{softmax}}(\alpha), &"
            rf"\alpha &\in \mathbb{{R}}^{{{k}}}"
        ]

    def fuse(self, graph: FusionGraph) -> Any:
        from fusion_core import layers

        return _head_or_vote(graph, layers.WeightedAverage(name=HEAD)(graph.frozen))


class FeatureHead(Fusion):
    type, rule = "parallel", "feature"
    label = "Feature head: a classifier on the members' last hidden layers"
    diagram = "Feature head\nDense 10 softmax on the hidden features\n{n} params"
    uses_holdout = True
    trained_head = True
    learned_head = True
    reads_features = True

    def _width(self, members: list[MemberConfig]) -> int:
        return sum(member_kind(m).feature_width(m) for m in members)

    def fusion_params(self, fusion: FusionConfig, members: list[MemberConfig]) -> int:
        return (self._width(members) + 1) * NUM_CLASSES

    def formula(self, fusion: FusionConfig, members: list[MemberConfig]) -> list[str]:
        k = fusion.num_members
        return [
            rf"p &= \mathrm{{softmax}}\!\left(W_f [h^{{(1)}}_L; \dots; h^{{({k})}}_L] + b_f\right), &"
            rf"W_f &\in \mathbb{{R}}^{{{NUM_CLASSES}\times {self._width(members)}}}"
        ]

    def fuse(self, graph: FusionGraph) -> Any:
        from keras import layers

        from fusion_core.layers import StopGradient

        features = [StopGradient(name=f"{member_name(k)}_features")(h) for k, h in enumerate(graph.hidden)]
        joined = _concat(features, "features")
        head = layers.Dense(NUM_CLASSES, activation="softmax", name=HEAD, **graph.head_initializer(501))
        return _head_or_vote(graph, head(joined))


class Cascade(Fusion):
    type, rule = "serial", "cascade"
    label = "Cascade: each stage refines the previous stage's answer"
    diagram = "Cascade\np = last stage's answer"
    chains_members = True

    def member_input_dim(self, index: int) -> int:
        return INPUT_DIM + (NUM_CLASSES if index > 0 else 0)

    def member_input(self, graph: FusionGraph, index: int) -> Any:
        # Stage k+1 sees the image together with stage k's answer and refines it.
        if index == 0:
            return graph.inputs
        from keras import layers

        from fusion_core.layers import StopGradient

        previous = StopGradient(name=f"{member_name(index - 1)}_handoff")(graph.probs[index - 1])
        return layers.Concatenate(name=f"stage_{index}_input")([graph.inputs, previous])

    def formula_prelude(self, num_members: int) -> list[str]:
        return [r"z_1 &= x, \quad z_k = [x;\, p_{k-1}] \;(k > 1)"]

    def formula(self, fusion: FusionConfig, members: list[MemberConfig]) -> list[str]:
        return [rf"p &= p_{{{fusion.num_members}}}"]

    def fuse(self, graph: FusionGraph) -> Any:
        from fusion_core.layers import StopGradient

        return StopGradient(name=FUSED)(graph.probs[-1])


class Stacking(Fusion):
    """A logistic-regression meta-learner on the members' probabilities (scikit-learn's default)."""

    type, rule = "serial", "stacking"
    label = "Stacking: a meta-learner on the members' probabilities"
    diagram = "Stacking meta-learner\nDense 10 softmax on [p_1 … p_K]\n{n} params"
    uses_holdout = True
    trained_head = True
    learned_head = True

    def fusion_params(self, fusion: FusionConfig, members: list[MemberConfig]) -> int:
        return (NUM_CLASSES * len(members) + 1) * NUM_CLASSES

    def formula(self, fusion: FusionConfig, members: list[MemberConfig]) -> list[str]:
        k = fusion.num_members
        return [
            rf"p &= \mathrm{{softmax}}\!\left(W_m [p_1; \dots; p_{{{k}}}] + b_m\right), &"
            rf"W_m &\in \mathbb{{R}}^{{{NUM_CLASSES}\times {NUM_CLASSES * k}}}"
        ]

    def fuse(self, graph: FusionGraph) -> Any:
        from keras import layers

        joined = _concat(graph.frozen, "member_probs")
        head = layers.Dense(NUM_CLASSES, activation="softmax", name=HEAD, **graph.head_initializer(502))
        return _head_or_vote(graph, head(joined))


class MetaNetwork(Fusion):
    """A parallel group feeding a serial meta-network that also sees the image."""

    type, rule = "hybrid", "meta"
    label = "Meta-network: sees the image and every member's answer"
    diagram = "Hybrid meta-network\nDense {units} relu → Dense 10 softmax\non [x, p_1 … p_K] · {n} params"
    uses_holdout = True
    trained_head = True
    learned_head = True
    sees_input = True
    uses_meta_units = True

    def fusion_params(self, fusion: FusionConfig, members: list[MemberConfig]) -> int:
        width = INPUT_DIM + NUM_CLASSES * len(members)
        return (width + 1) * fusion.meta_units + (fusion.meta_units + 1) * NUM_CLASSES

    def formula(self, fusion: FusionConfig, members: list[MemberConfig]) -> list[str]:
        k, u = fusion.num_members, fusion.meta_units
        return [
            rf"h_m &= \mathrm{{relu}}\!\left(W_m [x; p_1; \dots; p_{{{k}}}] + b_m\right), &"
            rf"W_m &\in \mathbb{{R}}^{{{u}\times {INPUT_DIM + NUM_CLASSES * k}}}",
            rf"p &= \mathrm{{softmax}}\!\left(W_o h_m + b_o\right), &"
            rf" W_o &\in \mathbb{{R}}^{{{NUM_CLASSES}\times {u}}}",
        ]

    def fuse(self, graph: FusionGraph) -> Any:
        from keras import layers

        joined = layers.Concatenate(name="meta_input")([graph.inputs, *graph.frozen])
        units = graph.fusion.meta_units
        h = layers.Dense(units, activation="relu", name="meta_dense", **graph.head_initializer(503))(joined)
        out = layers.Dense(NUM_CLASSES, activation="softmax", name=HEAD, **graph.head_initializer(504))(h)
        return _head_or_vote(graph, out)


# Every fusion, in the order the UI offers them; a type's first rule is its default.
FUSIONS: tuple[Fusion, ...] = (
    Single(),
    SoftVoting(),
    HardVoting(),
    LearnedWeights(),
    FeatureHead(),
    Cascade(),
    Stacking(),
    MetaNetwork(),
)
FUSION_TYPES: tuple[str, ...] = tuple(dict.fromkeys(f.type for f in FUSIONS))
FUSION_RULES: dict[str, tuple[str, ...]] = {
    fusion_type: tuple(f.rule for f in FUSIONS if f.type == fusion_type) for fusion_type in FUSION_TYPES
}
_BY_KEY: dict[tuple[str, str], Fusion] = {f.key: f for f in FUSIONS}


def get_fusion(fusion_type: str, rule: str) -> Fusion:
    """The registry entry of a (type, rule), or a ValueError naming what was received."""
    entry = _BY_KEY.get((fusion_type, rule))
    if entry is None:
        known = ", ".join(f"{t}/{r}" for t, r in _BY_KEY)
        raise ValueError(
            f"Unknown fusion. Expected one of {known}. Received: type={fusion_type!r}, rule={rule!r}"
        )
    return entry


def fusion_of(config: RunConfig | FusionConfig) -> Fusion:
    """The registry entry of a RunConfig's (or a FusionConfig's) fusion."""
    fusion = getattr(config, "fusion", config)
    return get_fusion(fusion.type, fusion.rule)


# -- model names ------------------------------------------------------------------------------------

_MODEL_NAME = re.compile(rf"({'|'.join(FUSION_TYPES)})_([a-z]+)_x(\d+)")


def model_name(fusion: FusionConfig) -> str:
    """What a built model is called: '<type>_<rule>_x<members>', e.g. 'parallel_soft_x5'."""
    return f"{fusion.type}_{fusion.rule}_x{fusion.num_members}"


def parse_model_name(name: str) -> tuple[str, str, int] | None:
    """'parallel_soft_x5' -> ('parallel', 'soft', 5); None when the name is not one of ours."""
    match = _MODEL_NAME.fullmatch(name or "")
    return (match.group(1), match.group(2), int(match.group(3))) if match else None


# -- parameter counts -------------------------------------------------------------------------------


def parameter_counts(config: RunConfig) -> dict[str, int]:
    """{'member_0': ..., 'fused': the fusion's own weights, 'total': ...}, what the built model holds."""
    entry = fusion_of(config)
    members = config.member_configs()
    counts = {
        member_name(k): member_kind(m).count_params(m, entry.member_input_dim(k))
        for k, m in enumerate(members)
    }
    counts[FUSED] = entry.fusion_params(config.fusion, members)
    counts["total"] = sum(counts.values())
    return counts


def xla_on_cpu(config: RunConfig) -> bool:
    """Whether TensorFlow's XLA speeds this model up on a CPU: not when it has a CNN member."""
    return all(member_kind(m).xla_on_cpu for m in config.member_configs())


def training_work(config: RunConfig) -> float:
    """What one training image costs the whole model, in Dense-parameter units (see
    `MemberKind.training_work`); for a model of MLPs it is exactly its parameter count."""
    entry = fusion_of(config)
    members = config.member_configs()
    work = sum(member_kind(m).training_work(m, entry.member_input_dim(k)) for k, m in enumerate(members))
    return work + entry.fusion_params(config.fusion, members)
