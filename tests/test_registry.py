"""The contract every registry entry keeps, and the registry checked against trusted references.

One parametrised test runs over every fusion (type, rule) and one over every member kind, the way
scikit-learn's estimator checks run over every estimator: build, one training step, save and load,
parameter counts, diagram and formula, output names. A new entry is covered without a new test.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from fusion_core import registry
from fusion_core.config import FUSION_RULES, FUSION_TYPES, MemberConfig, RunConfig, make_config
from fusion_core.registry import FUSED, FUSIONS, MEMBER_KINDS, member_name

pytestmark = pytest.mark.jax

# A small member of every kind (the contract test trains one); a new kind adds its line here.
SMALL_MEMBERS = {
    "mlp": MemberConfig(hidden_layers=2, hidden_units=8, dropout_rate=0.1),
    "cnn": MemberConfig.of_kind("cnn", filters=4, hidden_units=8, dropout_rate=0.1),
    "lstm": MemberConfig.of_kind("lstm", hidden_layers=2, hidden_units=8, dropout_rate=0.1),
}
NUM_IMAGES = 32


def small_config(fusion: registry.Fusion, members: int = 2, member: MemberConfig | None = None) -> RunConfig:
    config = make_config(
        fusion.type, num_members=1 if fusion.one_member else members, rule=fusion.rule, meta_units=8
    )
    config.member = member or SMALL_MEMBERS["mlp"]
    return config.validate()


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.random((NUM_IMAGES, registry.INPUT_DIM)).astype("float32"), rng.integers(0, 10, NUM_IMAGES)


def forward(model, x) -> dict[str, np.ndarray]:
    import keras

    return {name: keras.ops.convert_to_numpy(p) for name, p in model(x, training=False).items()}


def check_contract(config: RunConfig, images, tmp_path) -> None:
    """Build, train one step, save and load, and compare with what the registry says."""
    from fusion_core.models import build_model, compile_model, count_params, load_model
    from ui.architecture import architecture_dot, formula_latex

    x, y = images
    model = build_model(config)
    names = registry.output_names(config.fusion.num_members)
    assert sorted(model.output_names) == sorted(names)
    assert registry.parse_model_name(model.name) == (
        config.fusion.type,
        config.fusion.rule,
        config.fusion.num_members,
    )

    counts = registry.parameter_counts(config)
    assert counts == count_params(model, config.fusion.num_members)
    assert counts["total"] == model.count_params()

    before = [w.copy() for w in model.get_weights()]
    compile_model(model, config, jit_compile=False)
    history = model.fit(x, {name: y for name in names}, batch_size=NUM_IMAGES, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = load_model(path)
    assert loaded.name == model.name
    expected, got = forward(model, x), forward(loaded, x)
    assert sorted(got) == sorted(names)
    for name in names:
        assert got[name].shape == (NUM_IMAGES, registry.NUM_CLASSES), name
        np.testing.assert_allclose(got[name].sum(axis=1), 1.0, rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, atol=1e-7, err_msg=name)

    dot = architecture_dot(config)
    assert dot.startswith("digraph") and f"{counts[member_name(0)]:,}" in dot
    formula = formula_latex(config)
    assert formula.startswith(r"\begin{aligned}") and formula.endswith(r"\end{aligned}")


@pytest.mark.parametrize("fusion", FUSIONS, ids=lambda f: f"{f.type}-{f.rule}")
def test_every_fusion_keeps_the_contract(fusion, images, tmp_path):
    check_contract(small_config(fusion, members=2), images, tmp_path)


@pytest.mark.parametrize("kind", sorted(MEMBER_KINDS))
def test_every_member_kind_keeps_the_contract(kind, images, tmp_path):
    assert kind in SMALL_MEMBERS, f"add a small {kind!r} member to SMALL_MEMBERS"
    member = SMALL_MEMBERS[kind]
    entry = registry.member_kind(member)
    assert entry.name == kind
    assert len(entry.layer_labels(member)) == len(entry.layer_params(member, registry.INPUT_DIM))
    single = registry.get_fusion("single", "none")
    check_contract(small_config(single, member=member), images, tmp_path)
    # The member's formula names its input and ends in the class probabilities.
    lines = entry.formula(member, sup="", out="p", source="x", input_dims=str(registry.INPUT_DIM))
    assert lines[-1].startswith("p &=")


def test_every_fusion_is_described_for_the_ui():
    from ui.architecture import t  # importing the UI modules registers their English strings
    from ui.config_ui import t as config_t  # noqa: F401

    for fusion in FUSIONS:
        assert t(fusion.description_key) == fusion.label != fusion.description_key
        assert fusion.diagram, fusion.key


def test_config_offers_exactly_the_registered_fusions():
    assert FUSION_TYPES == ("single", "parallel", "serial", "hybrid")
    assert [(t, r) for t, rules in FUSION_RULES.items() for r in rules] == [f.key for f in FUSIONS]
    # Today's fusions keep their flags (subsets, so that a new rule needs no change here).
    assert {("serial", "stacking"), ("hybrid", "meta")} <= {f.key for f in FUSIONS if f.uses_holdout}
    assert {("parallel", "soft"), ("parallel", "hard")} <= {f.key for f in FUSIONS if f.is_vote}
    assert {("hybrid", "meta")} <= {f.key for f in FUSIONS if f.uses_meta_units}
    assert not any(f.uses_holdout for f in FUSIONS if not f.learned_head)  # a holdout fits a head


def test_unknown_fusions_and_kinds_are_refused_with_the_value_received():
    with pytest.raises(ValueError, match=r"Received: type='parallel', rule='avg'"):
        registry.get_fusion("parallel", "avg")

    odd = MemberConfig(kind="transformer")  # not validated: the registry still refuses it
    with pytest.raises(ValueError, match=r"one of 'mlp', 'cnn', 'lstm'\. Received: kind='transformer'"):
        registry.member_kind(odd)


def test_output_names_parse_back():
    assert registry.output_names(3) == ["member_0", "member_1", "member_2", FUSED]
    assert [registry.member_index(n) for n in registry.output_names(2)] == [0, 1, None]
    assert registry.member_index("member_probs") is None and registry.member_index("member_12") == 12
    assert registry.layer_owner("member_3_dense_1") == 3 and registry.layer_owner("meta_dense") is None
    names = ["fused", "member_10", "other", "member_2"]
    assert sorted(names, key=registry.output_order) == ["member_2", "member_10", "other", "fused"]
    assert registry.parse_model_name("hybrid_meta_x3") == ("hybrid", "meta", 3)
    assert registry.parse_model_name("sequential") is None


def test_the_registry_imports_without_keras():
    code = (
        "import sys, fusion_core.registry, fusion_core.config, ui.charts\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'keras', 'tensorflow', 'jax'})\n"
        "print(','.join(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


# -- trusted references (micrograd's way: the code against a plain implementation) -----------------


@pytest.mark.parametrize("members", [2, 5])
def test_soft_vote_equals_numpy_mean_of_member_probabilities(members, images):
    from fusion_core.models import build_model

    out = forward(build_model(small_config(registry.get_fusion("parallel", "soft"), members)), images[0])
    stacked = np.stack([out[member_name(k)] for k in range(members)])
    np.testing.assert_allclose(out[FUSED], np.mean(stacked, axis=0), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "fusion",
    [f for f in FUSIONS if f.type == "parallel" and not f.trained_head],
    ids=lambda f: f.rule,
)
def test_parallel_fusion_of_one_member_equals_the_single_network(fusion, images):
    """Without a trained head, fusing one member gives that member back (a hard vote: its label)."""
    from fusion_core.models import build_model

    x = images[0]
    single = forward(build_model(small_config(registry.get_fusion("single", "none"))), x)
    fused = forward(build_model(small_config(fusion, members=1)), x)
    np.testing.assert_allclose(fused[member_name(0)], single[member_name(0)], rtol=1e-6)
    np.testing.assert_array_equal(fused[FUSED].argmax(axis=1), single[FUSED].argmax(axis=1))
    if fusion.rule != "hard":  # a hard vote's output is its vote, not the member's probabilities
        np.testing.assert_allclose(fused[FUSED], single[FUSED], rtol=1e-5, atol=1e-7)


def test_parameter_counts_follow_each_members_own_shape():
    config = make_config("serial", 2, "cascade")
    config.members = [
        MemberConfig(hidden_layers=1, hidden_units=8),
        MemberConfig(hidden_layers=2, hidden_units=16),
    ]
    counts = registry.parameter_counts(config.validate())
    assert counts[member_name(0)] == (784 + 1) * 8 + (8 + 1) * 10
    assert counts[member_name(1)] == (794 + 1) * 16 + (16 + 1) * 16 + (16 + 1) * 10  # it also reads p_1
    assert counts[FUSED] == 0 and counts["total"] == counts[member_name(0)] + counts[member_name(1)]


# -- member kinds mixed in one model ----------------------------------------------------------------


def mixed_config(fusion: registry.Fusion) -> RunConfig:
    config = make_config(fusion.type, num_members=3, rule=fusion.rule, meta_units=8)
    config.members = [SMALL_MEMBERS[kind] for kind in ("mlp", "cnn", "lstm")]
    return config.validate()


@pytest.mark.parametrize(
    "fusion",
    [registry.get_fusion("parallel", "feature"), registry.get_fusion("serial", "cascade")],
    ids=lambda f: f.rule,
)
def test_mixed_kinds_keep_the_contract_where_members_read_more_or_give_features(fusion, images, tmp_path):
    """A cascade's CNN and LSTM stages read the image and the previous answer; a feature head reads
    a CNN's Dense head and an LSTM's last state."""
    config = mixed_config(fusion)
    check_contract(config, images, tmp_path)
    assert "Conv 5×5, 4 relu" in architecture_dot_of(config) and "LSTM 8" in architecture_dot_of(config)


def architecture_dot_of(config: RunConfig) -> str:
    from ui.architecture import architecture_dot

    return architecture_dot(config)


def test_kind_formulas_write_convolutions_and_lstm_gates_with_real_shapes():
    from ui.architecture import formula_latex

    config = make_config("parallel", kinds="mlp,cnn,lstm")
    latex = formula_latex(config)
    assert r"K_{2}^{(2)} &\in \mathbb{R}^{5\times 5\times 16\times 32}" in latex  # conv 16 -> 32
    assert r"W_{3}^{(2)} &\in \mathbb{R}^{128\times 1568}" in latex  # 7 x 7 x 32 flattened
    assert r"c_t^{(3)} &= f_t \odot c_{t-1}^{(3)} + i_t \odot g_t" in latex
    assert r"U_{\ast}^{(3)} \in \mathbb{R}^{64\times 64}" in latex and r"\mathbb{R}^{64\times 28}" in latex
    chained = formula_latex(make_config("serial", rule="cascade", kinds="cnn,lstm"))
    assert r"[\mathrm{vec}(H_{2}^{(1)});\, " not in chained  # stage 1 reads the image only
    assert r"[h_{28}^{(2)};\, p_{1}]" in chained  # stage 2 also reads stage 1's answer


def test_default_kind_shapes_have_the_measured_sizes_and_costs():
    cnn, lstm = MemberConfig.of_kind("cnn"), MemberConfig.of_kind("lstm")
    # conv5x5(16), conv5x5(32), Dense 128 on 7x7x32, softmax; LSTM(64) over rows of 28, softmax.
    assert registry.member_kind(cnn).count_params(cnn) == 416 + 12_832 + 200_832 + 1_290
    assert registry.member_kind(lstm).count_params(lstm) == 4 * (28 * 64 + 64 * 64 + 64) + 650
    mlp = MemberConfig()
    assert registry.member_kind(mlp).training_work(mlp) == registry.ARTICLE_PARAMS
    assert registry.member_kind(cnn).training_work(cnn) == pytest.approx(2.7 * registry.ARTICLE_PARAMS)
    assert registry.member_kind(lstm).training_work(lstm) == pytest.approx(1.9 * registry.ARTICLE_PARAMS)
    wider = MemberConfig.of_kind("lstm", hidden_units=128)
    assert registry.member_kind(wider).training_work(wider) > 3 * registry.ARTICLE_PARAMS  # units squared
