"""Resource estimates and limits: counted like Keras counts, refusing what this machine cannot finish."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fusion_core import limits, registry
from fusion_core.config import FUSION_RULES, MemberConfig, RunConfig, make_config
from fusion_core.limits import (
    LIMITS,
    Limits,
    ResourceLimitError,
    check_active_runs,
    check_config,
    check_parameter_count,
    estimate,
    memory_bytes,
    pacing_of,
    parameter_count,
)
from fusion_core.models import build_model
from fusion_core.store import RunStore
from ui.presets import PRESETS

ROOT = Path(__file__).resolve().parents[1]


def biggest() -> RunConfig:
    """10 members x 8 layers x 2,048 units: every slider at its top."""
    return make_config("parallel", 10, "soft", hidden_layers=8, hidden_units=2048)


@pytest.mark.parametrize(
    ("fusion_type", "rule"), [(ft, r) for ft, rules in FUSION_RULES.items() for r in rules]
)
def test_parameter_count_equals_the_built_models(fusion_type, rule):
    from fusion_core.models import build_model, count_params

    config = make_config(fusion_type, None, rule, hidden_units=16, hidden_layers=2)
    assert parameter_count(config) == count_params(build_model(config), config.fusion.num_members)["total"]


def test_parameter_count_of_mixed_members_equals_the_built_models():
    from fusion_core.models import build_model, count_params

    config = make_config("parallel", 2, "feature")
    config.members = [
        MemberConfig(hidden_layers=1, hidden_units=8),
        MemberConfig(hidden_layers=3, hidden_units=32),
    ]
    assert parameter_count(config.validate()) == count_params(build_model(config), 2)["total"]


def test_the_module_imports_without_keras():
    code = "import sys, fusion_core.limits; print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_the_seed_network_fits_and_costs_seconds():
    config = make_config()  # 2x512 relu, 5 epochs, 54,000 images
    est = check_config(config)
    assert est.parameters == 669_706
    # Weights + gradients + two Adam slots (4 copies), a batch's activations, 70,000 float32 images.
    assert est.memory_bytes == (4 * 669_706 + 2 * 128 * (784 + 512 + 512 + 10) + 70_000 * 784) * 4
    assert 3 < est.seconds_per_epoch < 10  # measured 4.4 s at load 14 (81 us an image at batch 128)
    assert est.total_seconds == pytest.approx(5 * est.seconds_per_epoch)
    assert est.calibrated_on == 0


@pytest.mark.parametrize(
    "config",
    [
        make_config(**PRESETS["article_code"]),  # 9,375 steps: XLA, 20 steps a call
        make_config(**PRESETS["minute"]),  # a CNN member: no XLA on a CPU
        make_config("parallel", 5, "soft", batch_size=32, epochs=5, train_size=60_000),  # 4 a call
        make_config(hidden_layers=4, hidden_units=2048, batch_size=256),  # a slow step: 1 a call
    ],
    ids=["article_code", "minute", "mlp5", "wide"],
)
def test_the_estimate_paces_a_run_as_train_does(config):
    from fusion_core import train

    tc = config.training
    steps = -(-limits.training_images(config) // tc.batch_size)
    xla = train.choose_jit_compile(steps * tc.epochs) is True and registry.xla_on_cpu(config)
    per_call = train.choose_steps_per_execution(build_model(config).count_params(), tc.batch_size)
    assert pacing_of(config) == (per_call, xla)


def test_the_article_code_preset_is_estimated_within_its_measured_range():
    """Measured 13-56 s of training for 5 epochs of 60,000 images at batch 32 (docs/PERFORMANCE.md):
    each compiled call runs 20 steps, and XLA trims each step. One step a call without XLA, the
    same run costs more."""
    config = make_config(**PRESETS["article_code"])
    est = estimate(config)
    assert 13 <= est.total_seconds <= 60
    per_call, xla = pacing_of(config)
    assert (per_call, xla) == (20, True)
    images, steps = 60_000, 1875
    unpaced = 6 * registry.training_work(config) * images / limits.FLOPS
    unpaced += steps * (limits.SECONDS_PER_STEP + limits.SECONDS_PER_CALL) + limits.START_SECONDS / 5
    assert est.seconds_per_epoch < unpaced


def test_every_slider_at_its_top_is_refused_with_the_numbers_and_the_limits():
    with pytest.raises(ResourceLimitError) as caught:
        check_config(biggest())
    text = str(caught.value)
    assert text.startswith("This run is too large for this machine: it needs 310,")
    assert f"parameters; the limit is {LIMITS.max_parameters:,}" in text
    assert "GB of memory; the limit is 4.0 GB" in text
    assert "of training; the limit is 60 min" in text
    assert "Received: parallel x10 (soft), 8x2048 relu, 5 epochs" in text


def test_a_long_run_is_refused_on_time_alone():
    config = make_config("parallel", 10, "soft", hidden_layers=2, hidden_units=1024, epochs=200)
    est = estimate(config)
    assert est.parameters < LIMITS.max_parameters and est.memory_bytes < LIMITS.max_memory_bytes
    with pytest.raises(ResourceLimitError, match=r"h of training; the limit is 60 min") as caught:
        check_config(config)
    assert "parameters;" not in str(caught.value)


def test_optimizer_state_counts_in_memory():
    adam, sgd = make_config(optimizer="adam"), make_config(optimizer="sgd")
    assert memory_bytes(adam) - memory_bytes(sgd) == parameter_count(adam) * 4  # one more slot per weight


def test_finished_runs_in_the_store_scale_the_time(tmp_path):
    config = make_config(epochs=2)
    modelled = estimate(config).seconds_per_epoch
    store = RunStore(tmp_path / "runs.db")
    for factor in (2.0, 3.0, 4.0):
        run_id = store.create_run(config.to_dict())
        store.finish(run_id, "done", timings={"seconds_per_epoch": modelled * factor})
    bad = store.create_run({"member": {"hidden_layers": "many"}})  # a damaged row is skipped
    store.finish(bad, "done", timings={"seconds_per_epoch": 1.0})
    untimed = store.create_run(config.to_dict())
    store.finish(untimed, "done")
    est = estimate(config, store.list_runs(status="done"))
    store.close()
    assert est.calibrated_on == 3
    assert est.seconds_per_epoch == pytest.approx(3.0 * modelled)  # the median ratio


def test_uploaded_models_get_the_same_parameter_limit():
    check_parameter_count(parameter_count(make_config()))
    with pytest.raises(
        ResourceLimitError, match=r"^The upload is too large .* 397,500,010 parameters; the limit"
    ):
        check_parameter_count(limits.dense_parameters([784, 500_000, 10]), what="The upload")


def test_a_visitor_may_have_a_few_runs_waiting_not_more():
    check_active_runs(2, limit=3)
    with pytest.raises(
        ResourceLimitError, match=r"^You already have 3 runs queued or running; the limit is 3"
    ):
        check_active_runs(3, limit=3)


def test_custom_limits_are_applied():
    with pytest.raises(ResourceLimitError, match="parameters; the limit is 1,000"):
        check_config(make_config(), limits=Limits(max_parameters=1_000))
