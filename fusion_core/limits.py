"""What a run will cost before it is queued, and what this machine refuses to start.

A configuration can ask for 10 members x 8 layers x 2,048 units: about 310 million parameters, 5 GB
with Adam's state and hours per epoch on a laptop's CPU. `estimate` gives parameters, memory and
time from plain arithmetic (no Keras), `check_config` raises a `ResourceLimitError` with the numbers
and the limit when a run is beyond `LIMITS`, and `check_parameter_count` applies the same parameter
limit to a model someone uploads (its declared architecture, counted before anything is built).

Time per epoch is modelled on what `fusion_core.train.train` does (fusion_core/pacing.py): the
floating-point work of training, a fixed cost per step, a fixed cost per call of the compiled
function (train() runs `steps_per_execution` steps per call), and a cost per run (tracing, and
XLA compilation for a run long enough to get it), spread over its epochs:

    seconds_per_epoch = 6 * training_work * images / FLOPS      (a forward pass is 2 FLOP per
                      + steps * step_cost                        weight and image, backward 4)
                      + calls * SECONDS_PER_CALL
                      + (START_SECONDS + XLA_COMPILE_SECONDS if XLA) / epochs

with step_cost SECONDS_PER_STEP, less XLA_SAVING_PER_STEP under XLA. Measured on this project's
reference machine (2 CPU cores shared with other work, load average 11-14, TensorFlow 2.21,
Keras 3) with `bench/bench_step_cost.py`: each kind alone, 12,000 real MNIST images, 2 epochs:

    kind   batch 32 (20 steps a call)   batch 128 (20 a call)   batch 32, 1 step a call
    MLP    136 us per image             81 us                   215 us
    CNN    212 us                       179 us
    LSTM   213 us                       141 us

One step a call against twenty gives about 2.7 ms per call; batch 32 against 128 about 2.4 ms per
step for the MLP (1.4 ms CNN, 3.1 ms LSTM); what is left of the MLP's time is 6.4e10 FLOP/s
(1.8e11 on an idle machine). FLOPS below is the loaded figure, so estimates lean long. XLA saves
about 1.3 ms per step of the article's network and costs about 3 s to compile (docs/PERFORMANCE.md).
Convolutional and recurrent members reuse each weight at every position, so their parameters say
little about their time: they count as `registry.training_work`, their kind's measured arithmetic
per image relative to the article's MLP (CNN 2.7x, LSTM 1.9x at their default shapes) scaled by
multiply-adds for other shapes. When the store holds finished runs, `estimate` scales the model by
the median of their measured / modelled ratios, so the figure follows the machine it runs on.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from fusion_core.config import MNIST_TRAIN_SIZE, ConfigError, RunConfig
from fusion_core.pacing import LOG_EVERY, steps_per_execution, xla_for
from fusion_core.registry import member_kind, parameter_counts, training_work, xla_on_cpu

INPUT_DIM = 784
NUM_CLASSES = 10
BYTES_PER_FLOAT = 4
TEST_IMAGES = 10_000

FLOPS = 6e10  # training arithmetic on 2 busy cores, measured (see the module docstring)
SECONDS_PER_STEP = 0.0025  # fixed cost of one training step inside a compiled call, measured
SECONDS_PER_CALL = 0.003  # fixed cost of one call of the compiled function (Python, callbacks)
START_SECONDS = 1.0  # tracing the training function, once per run
XLA_SAVING_PER_STEP = 0.0013  # what XLA saves per step (the article's network, docs/PERFORMANCE.md)
XLA_COMPILE_SECONDS = 3.0  # what XLA costs up front
# Each optimizer's state, in copies of the weights: Adam keeps two moments, SGD momentum and RMSprop one.
OPTIMIZER_SLOTS = {"adam": 2, "sgd": 1, "rmsprop": 1}
CALIBRATION_RUNS = 20  # the newest finished runs that scale the time estimate
MAX_ACTIVE_PER_VISITOR = 3  # runs one visitor may have queued or running at once


@dataclass(frozen=True)
class Limits:
    """What this machine is asked to finish; beyond any of them a run is refused before it is queued."""

    max_parameters: int = 100_000_000  # 1.6 GB of weights, gradients and Adam state
    max_memory_bytes: int = 4 * 1024**3  # one run's estimated peak memory
    max_minutes: float = 60.0  # the whole run, all epochs


LIMITS = Limits()


@dataclass(frozen=True)
class Estimate:
    """What a run will cost. `calibrated_on` is how many finished runs scaled the time (0: none)."""

    parameters: int
    memory_bytes: int
    seconds_per_epoch: float
    total_seconds: float
    calibrated_on: int = 0


class ResourceLimitError(ValueError):
    """A run or a model is beyond what this machine finishes; the message has the numbers and limit."""


# -- counting ---------------------------------------------------------------------------------------


def dense_parameters(sizes: list[int]) -> int:
    """Weights plus biases of a stack of Dense layers with these widths, input first: [784, 512, 10]."""
    return sum((n_in + 1) * n_out for n_in, n_out in pairwise(sizes))


def parameter_count(config: RunConfig) -> int:
    """All trainable parameters of the model `config` describes: the registry's count."""
    return parameter_counts(config)["total"]


def training_images(config: RunConfig) -> int:
    """How many images one epoch trains on: train_size, capped at what validation leaves."""
    tc = config.training
    pool = MNIST_TRAIN_SIZE - round(MNIST_TRAIN_SIZE * tc.validation_fraction)
    return min(tc.train_size, pool)


# -- estimating -------------------------------------------------------------------------------------


def memory_bytes(config: RunConfig) -> int:
    """Peak memory of one training run: weights, gradients, optimizer state, a batch's activations, data.

    Activations: every layer's output and its gradient are held for a batch (2 floats per unit). Data:
    the float32 training, validation and test images the job holds.
    """
    params = parameter_count(config)
    slots = OPTIMIZER_SLOTS.get(config.training.optimizer, 2)
    state = params * (2 + slots)  # weights, gradients, optimizer slots
    units = sum(member_kind(m).activation_values(m) for m in config.member_configs())
    activations = 2 * config.training.batch_size * units
    data = (MNIST_TRAIN_SIZE + TEST_IMAGES) * INPUT_DIM
    return (state + activations + data) * BYTES_PER_FLOAT


def pacing_of(config: RunConfig) -> tuple[int, bool]:
    """(steps per compiled call, XLA or not) as fusion_core.train picks them for `config` on a CPU
    with TensorFlow (fusion_core/pacing.py)."""
    tc = config.training
    per_call = steps_per_execution(parameter_count(config), tc.batch_size, LOG_EVERY)
    steps = math.ceil(training_images(config) / tc.batch_size)
    return per_call, xla_for(steps * tc.epochs, xla_on_cpu(config))


def model_seconds_per_epoch(config: RunConfig) -> float:
    """The uncalibrated time model of the module docstring."""
    tc = config.training
    images = training_images(config)
    steps = math.ceil(images / tc.batch_size)
    per_call, xla = pacing_of(config)
    calls = math.ceil(steps / per_call)
    step_seconds = SECONDS_PER_STEP - (XLA_SAVING_PER_STEP if xla else 0.0)
    setup = START_SECONDS + (XLA_COMPILE_SECONDS if xla else 0.0)
    compute = 6 * training_work(config) * images / FLOPS
    return compute + steps * step_seconds + calls * SECONDS_PER_CALL + setup / tc.epochs


def speed_factor(finished_runs: Iterable[dict[str, Any]]) -> tuple[float, int]:
    """(median of measured / modelled seconds per epoch, how many runs), from stored runs.

    `finished_runs` are run-store rows (with `config` and `timings` dicts), newest first; rows
    without a usable config or timing are skipped. (1.0, 0) when none is usable.
    """
    ratios = []
    for run in finished_runs:
        if len(ratios) >= CALIBRATION_RUNS:
            break
        try:
            measured = float((run.get("timings") or {}).get("seconds_per_epoch") or 0.0)
            if not measured > 0 or not math.isfinite(measured):
                continue
            ratios.append(measured / model_seconds_per_epoch(RunConfig.from_dict(run["config"]).validate()))
        except (ConfigError, TypeError, KeyError, ValueError, AttributeError):
            continue  # an upload, an old or damaged row: it says nothing about this machine's speed
    if not ratios:
        return 1.0, 0
    return statistics.median(ratios), len(ratios)


def estimate(config: RunConfig, finished_runs: Iterable[dict[str, Any]] = ()) -> Estimate:
    """Parameters, memory and time of a run; time scaled by the store's finished runs if given."""
    factor, used = speed_factor(finished_runs)
    per_epoch = model_seconds_per_epoch(config) * factor
    return Estimate(
        parameters=parameter_count(config),
        memory_bytes=memory_bytes(config),
        seconds_per_epoch=per_epoch,
        total_seconds=per_epoch * config.training.epochs,
        calibrated_on=used,
    )


# -- refusing ---------------------------------------------------------------------------------------


def format_bytes(n: float) -> str:
    """'310 MB', '4.9 GB'."""
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}" if n < 10 * size else f"{n / size:,.0f} {unit}"
    return f"{n:,.0f} bytes"


def format_minutes(seconds: float) -> str:
    """'40 s', '12 min', '5.2 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:,.1f} h"


def breaches(est: Estimate, limits: Limits = LIMITS) -> list[tuple[str, dict[str, Any]]]:
    """The limits the estimate exceeds, as codes with their numbers (empty when the run fits):
    ('parameters', {needed, limit}), ('memory', {needed, limit}) in bytes, ('time', {needed, limit})
    in seconds. A page words them in the visitor's language; `problems` words them in English."""
    found: list[tuple[str, dict[str, Any]]] = []
    if est.parameters > limits.max_parameters:
        found.append(("parameters", {"needed": est.parameters, "limit": limits.max_parameters}))
    if est.memory_bytes > limits.max_memory_bytes:
        found.append(("memory", {"needed": est.memory_bytes, "limit": limits.max_memory_bytes}))
    if est.total_seconds > limits.max_minutes * 60:
        found.append(("time", {"needed": est.total_seconds, "limit": limits.max_minutes * 60}))
    return found


def problems(est: Estimate, limits: Limits = LIMITS) -> list[str]:
    """One sentence per limit the estimate exceeds (empty when the run fits)."""
    english = {
        "parameters": lambda v: f"{v['needed']:,} parameters; the limit is {v['limit']:,}",
        "memory": lambda v: (
            f"about {format_bytes(v['needed'])} of memory; the limit is {format_bytes(v['limit'])}"
        ),
        "time": lambda v: (
            f"about {format_minutes(v['needed'])} of training; the limit is {v['limit'] / 60:g} min"
        ),
    }
    return [english[code](values) for code, values in breaches(est, limits)]


def check_config(
    config: RunConfig, finished_runs: Iterable[dict[str, Any]] = (), limits: Limits = LIMITS
) -> Estimate:
    """The run's estimate, or ResourceLimitError naming every limit it exceeds and what to change."""
    est = estimate(config, finished_runs)
    found = problems(est, limits)
    if found:
        raise ResourceLimitError(
            "This run is too large for this machine: it needs " + ", and ".join(found) + ". "
            "Use fewer members, fewer or narrower layers, fewer epochs or fewer training images. "
            f"Received: {config.describe()}, {config.training.epochs} epochs"
        )
    return est


def check_parameter_count(count: int, *, what: str = "This model", limits: Limits = LIMITS) -> None:
    """Refuse a model (an upload's declared architecture) with more parameters than a run may have."""
    if count > limits.max_parameters:
        raise ResourceLimitError(
            f"{what} is too large for this machine: it declares {count:,} parameters; "
            f"the limit is {limits.max_parameters:,}. Received: {count:,} parameters"
        )


def check_active_runs(active: int, limit: int = MAX_ACTIVE_PER_VISITOR) -> None:
    """Refuse another job while this visitor already has `limit` runs queued or running."""
    if active >= limit:
        raise ResourceLimitError(
            f"You already have {active} runs queued or running; the limit is {limit} per visitor. "
            "Wait for one to finish or stop one, then start this one."
        )
