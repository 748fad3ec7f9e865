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

    def layer_params(self, member: MemberConfig, input_dim: int) -> list[int]:
        """Weights plus biases of each layer that has any, the softmax layer last."""
        raise NotImplementedError

    def count_params(self, member: MemberConfig, input_dim: int = INPUT_DIM) -> int:
        return sum(self.layer_params(member, input_dim))

    def feature_width(self, member: MemberConfig) -> int:
        """The width of the last hidden representation (what a feature head reads)."""
        raise NotImplementedError

    def layer_labels(self, member: MemberConfig) -> list[str]:
        """A short label per `layer_params` entry, for the diagram: 'Dense 512 relu'."""
        raise NotImplementedError

    def formula(self, member: MemberConfig, *, sup: str, out: str, source: str, input_dims: str) -> list[str]:
        """KaTeX lines (for an `aligned` block) from `source` to the probabilities `out`."""
        raise NotImplementedError

    def build(self, inputs: Any, member: MemberConfig, index: int, seed: int) -> tuple[Any, Any]:
        """Keras layers on `inputs`; returns (last hidden activation, class probabilities)."""
        raise NotImplementedError


class MLP(MemberKind):
    """The article's stacked network: y = f(W1 x + b1), z = f(W2 y + b2), ..., softmax."""

    name = "mlp"

    def layer_params(self, member: MemberConfig, input_dim: int) -> list[int]:
        sizes = [input_dim, *member.units_per_layer(), NUM_CLASSES]
        return [(n_in + 1) * n_out for n_in, n_out in pairwise(sizes)]

    def feature_width(self, member: MemberConfig) -> int:
        return member.units_per_layer()[-1]

    def layer_labels(self, member: MemberConfig) -> list[str]:
        shape = zip(member.units_per_layer(), member.activations_per_layer(), strict=True)
        return [f"Dense {units} {act}" for units, act in shape] + [f"Dense {NUM_CLASSES} softmax"]

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
        import keras
        from keras import layers

        prefix = member_name(index)
        regularizer = keras.regularizers.L2(member.l2) if member.l2 > 0 else None
        h = inputs
        shape = zip(member.units_per_layer(), member.activations_per_layer(), strict=True)
        for i, (units, activation) in enumerate(shape):
            h = layers.Dense(
                units,
                activation=activation,
                kernel_initializer=keras.initializers.GlorotUniform(seed=seed + i),
                kernel_regularizer=regularizer,
                name=f"{prefix}_dense_{i}",
            )(h)
            if member.dropout_rate > 0:
                h = layers.Dropout(member.dropout_rate, seed=seed + 100 + i, name=f"{prefix}_drop_{i}")(h)
        probs = layers.Dense(
            NUM_CLASSES,
            activation="softmax",
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 99),
            name=prefix,
        )(h)
        return h, probs


DEFAULT_MEMBER_KIND = "mlp"
MEMBER_KINDS: dict[str, MemberKind] = {kind.name: kind for kind in (MLP(),)}


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
