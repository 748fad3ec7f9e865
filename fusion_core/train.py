"""Train a fused model jointly, streaming progress to a callback and honouring stop requests.

`train()` runs one `model.fit` for all members (a loss each, plus the fusion's). A Keras callback
turns the batch logs into events:

    {"split": "train" | "val", "step": 120, "epoch": 0.26, "seen": 15360, "elapsed": 3.1,
     "total_steps": 2345, "series": {"member_0": {"loss": 0.41, "accuracy": 0.88}, ..., "fused": {...}}}

Training points cover the last `log_every` batches; validation points are measured 4 times per
epoch on a fixed subset of the validation set, so even a one-epoch run draws a curve. A run with no
validation set (`validation_fraction` 0, as in the article's code) sends training points only. A first
validation point (step 0, the untrained model: chance level) is sent right after the model is
built, before the training function is traced, so a chart starts at once.

Keras runs several steps per call of its compiled function (`steps_per_execution`, chosen by
`choose_steps_per_execution`), so the callback sees every N-th batch end; every step has the same
shape (the last batch is padded with zero-weight rows, `pad_to_full_batches`), so a smaller last
batch never costs a second compilation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from fusion_core import registry
from fusion_core.config import RunConfig
from fusion_core.device import device_info
from fusion_core.heads import fit_head
from fusion_core.layers import GroupedDense
from fusion_core.models import FUSED, build_model, compile_model, member_name, output_names, uses_holdout
from fusion_core.pacing import (  # noqa: F401 (re-exported: tests and benchmarks read them here)
    CPU_FLOPS,
    GPU_FLOPS,
    LOG_EVERY,
    MAX_STEPS_PER_EXECUTION,
    STOP_BUDGET_S,
    XLA_MIN_STEPS,
    steps_per_execution,
)

EventHandler = Callable[[dict], None]

VAL_PER_EPOCH = 4  # validation points per epoch
MONITOR_SIZE = 1000  # validation images scored at each validation point


def choose_jit_compile(total_steps: int) -> bool | str:
    """XLA for long TensorFlow runs only (pacing.XLA_MIN_STEPS); other backends keep Keras's choice
    (JAX always compiles)."""
    if keras.backend.backend() != "tensorflow":
        return "auto"
    return total_steps >= XLA_MIN_STEPS


def choose_steps_per_execution(num_params: int, batch_size: int, log_every: int = LOG_EVERY) -> int:
    """Steps per compiled call on this device (pacing.steps_per_execution)."""
    return steps_per_execution(num_params, batch_size, log_every, gpu=bool(device_info().get("gpu")))


def grouped_layout() -> bool:
    """Whether train() builds identical members as grouped layers (models.build_member_group).

    On a GPU a step is dispatch-bound, so fewer, larger products pay (measured 0.52 s against 0.69 s
    per warm epoch for 5 members). On CPU the step is compute-bound: with TensorFlow the grouped
    joint fit of 5 members still came out ahead of one branch per member (tracing included, two
    runs: 0.58 and 0.68 of five separate fits, against 0.68 and 0.77); with JAX the batched
    products were slower (warm epoch 1.9 s against 1.5 s at 20,000 images). docs/PERFORMANCE.md.
    """
    info = device_info()
    return bool(info.get("gpu")) or info.get("backend") == "tensorflow"


def pad_to_full_batches(
    x: np.ndarray, y: np.ndarray, weights: dict[str, np.ndarray] | None, names: list[str], batch_size: int
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Pads the data to a whole number of batches with rows of weight 0.

    A last, smaller batch has a new shape: on JAX (and with XLA) the training step compiles a second
    time for it, which costs as much as the first time. Zero-weight rows add nothing to the loss,
    the gradients or the weighted accuracy (a batch holding some is scaled as a full one: Keras
    divides by the batch size); every member still trains on exactly the real examples.
    Returns (x, y, per-output weights) with len(x) a multiple of `batch_size`.
    """
    n = len(x)
    pad = -n % batch_size
    if weights is None:
        weights = {name: np.ones(n, dtype="float32") for name in names}
    if pad == 0:
        return x, y, weights
    x = np.concatenate([x, np.zeros((pad, *x.shape[1:]), dtype=x.dtype)])
    y = np.concatenate([y, np.zeros(pad, dtype=y.dtype)])
    weights = {name: np.concatenate([w, np.zeros(pad, dtype=w.dtype)]) for name, w in weights.items()}
    return x, y, weights


@dataclass
class TrainOutcome:
    """What `train()` leaves behind. `status` is 'done' or 'stopped' (by request or early stopping)."""

    model: keras.Model
    status: str
    events: list[dict] = field(default_factory=list)
    epochs_completed: float = 0.0
    train_seconds: float = 0.0
    seconds_per_epoch: float = 0.0
    stopped_early: bool = False
    best_epoch: int | None = None
    device: dict = field(default_factory=dict)
    steps_per_execution: int = 1  # the callback saw every N-th batch end; Stop acts within N steps
    head: dict | None = None  # a learned fusion's head phase (fusion_core/heads.py), else None


def event_rows(event: dict) -> list[dict]:
    """Flatten one event into one row per series (the run store's shape)."""
    common = {k: event[k] for k in ("split", "step", "epoch", "seen", "elapsed")}
    return [{**common, "series": name, **values} for name, values in event["series"].items()]


def probabilities(model: keras.Model, x: np.ndarray, batch_size: int = 2048) -> dict[str, np.ndarray]:
    """Every output's class probabilities for `x`, in inference mode (no dropout).

    A direct call rather than `predict_on_batch`: tracing a predict function costs about a second,
    more than all the validation points of a short run together.
    """
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(x), batch_size):
        out = model(x[start : start + batch_size], training=False)
        for name, value in out.items():
            parts.setdefault(name, []).append(keras.ops.convert_to_numpy(value))
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


def score(probs: dict[str, np.ndarray], y: np.ndarray) -> dict[str, dict[str, float]]:
    """Mean cross-entropy and accuracy of each output."""
    result = {}
    rows = np.arange(len(y))
    for name, p in probs.items():
        picked = np.clip(p[rows, y], 1e-7, 1.0)
        result[name] = {
            "loss": float(-np.mean(np.log(picked))),
            "accuracy": float(np.mean(np.argmax(p, axis=1) == y)),
        }
    return result


class StreamingCallback(keras.callbacks.Callback):
    """Bridges Keras's batch logs to plain event dicts, and stop requests to `stop_training`.

    With N steps per execution Keras calls `on_train_batch_end` once per N batches (its `batch` is
    the last of them, possibly past the end of a short last execution): points fall on the first
    batch end at or after each planned step, and a stop request acts at the next call, within N
    steps. `padded_size` is the epoch's rows including zero-weight padding (pad_to_full_batches).
    """

    def __init__(
        self,
        names: list[str],
        x_monitor: np.ndarray,
        y_monitor: np.ndarray,
        *,
        steps_per_epoch: int,
        batch_size: int,
        num_examples: int,
        epochs: int,
        on_event: EventHandler | None,
        stop_event: threading.Event | None,
        log_every: int = LOG_EVERY,
        val_per_epoch: int = VAL_PER_EPOCH,
        padded_size: int | None = None,
    ):
        super().__init__()
        self.names = names
        self.x_monitor, self.y_monitor = x_monitor, y_monitor
        self.steps_per_epoch = steps_per_epoch
        self.batch_size = batch_size
        self.num_examples = num_examples
        self.padded_size = padded_size or num_examples
        # Keras divides each batch's weighted loss sum by the batch size, padding rows included.
        self.real_fraction = num_examples / self.padded_size
        self.epochs = epochs
        self.on_event = on_event
        self.stop_event = stop_event
        self.log_every = max(1, log_every)
        points = {max(1, round(steps_per_epoch * j / val_per_epoch)) for j in range(1, val_per_epoch + 1)}
        self.val_points = points
        self.events: list[dict] = []
        self.step = 0
        self.epoch = 0
        self.stop_requested = False
        self.on_stop: Callable[[float], None] | None = None  # set by train(): its on_trained hook
        self.t0 = time.perf_counter()  # train() start: `elapsed` includes building, like the user's wait
        self._last_batch = 0  # batches of this epoch done at the previous call
        self._window_start = (0, {})  # (rows seen this epoch, cumulative means) at the last point

    # -- helpers ------------------------------------------------------------------------------
    def _emit(self, split: str, batch: int, series: dict) -> None:
        done = batch + 1 if self.step else 0
        event = {
            "split": split,
            "step": self.step,
            "epoch": round(self.epoch + done / self.steps_per_epoch, 4),
            # Padding rows are spread over the epoch by the shuffle: count the real ones pro rata.
            "seen": self.epoch * self.num_examples + round(done * self.num_examples / self.steps_per_epoch),
            "elapsed": round(time.perf_counter() - self.t0, 3),
            "total_steps": self.steps_per_epoch * self.epochs,
            "series": series,
        }
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    def _train_point(self, batch: int, logs: dict) -> None:
        # Rows behind Keras's running means, padding included (padded_size is a whole batch count).
        seen_now = min((batch + 1) * self.batch_size, self.padded_size)
        seen_before, means_before = self._window_start
        width = max(seen_now - seen_before, 1)
        series, means_now = {}, {}
        for name in self.names:
            values = {}
            for metric in ("loss", "accuracy"):
                key = f"{name}_{metric}"
                if key not in logs:
                    continue
                now = float(logs[key])
                means_now[key] = now
                before = means_before.get(key, 0.0)
                # Keras reports means over the epoch so far; recover the mean over this window.
                window = (now * seen_now - before * seen_before) / width
                # Float round-off in the subtraction must not show as 100.00001% accuracy.
                if metric == "accuracy":
                    values[metric] = min(max(window, 0.0), 1.0)
                else:
                    values[metric] = max(window, 0.0) / self.real_fraction
            series[name] = values
        self._window_start = (seen_now, means_now)
        self._emit("train", batch, series)

    def validation_point(self, batch: int) -> None:
        if not len(self.x_monitor):  # no hold-out (validation_fraction 0): training points only
            return
        self._emit("val", batch, score(probabilities(self.model, self.x_monitor), self.y_monitor))

    def _stop_set(self) -> bool:
        return self.stop_event is not None and self.stop_event.is_set()

    def _announce_stop(self) -> None:
        """`on_stop(epochs)` once, the moment a stop request is honoured: before the last points
        are measured and fit() returns, so a watcher can say "stopped" without waiting for them."""
        if self.on_stop is not None and not self.stop_requested:
            self.on_stop(round(self.step / self.steps_per_epoch, 4))
            self.on_stop = None

    # -- Keras hooks --------------------------------------------------------------------------
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self._last_batch = 0
        self._window_start = (0, {})

    def on_train_batch_end(self, batch, logs=None):
        batch = min(batch, self.steps_per_epoch - 1)  # a short last execution reports past the end
        before, done = self._last_batch, batch + 1
        self._last_batch = done
        first = self.step == 0  # a training point at once, so a chart starts moving before batch 20
        self.step = self.epoch * self.steps_per_epoch + done
        logs = logs or {}
        stop = self._stop_set()
        if stop:
            self._announce_stop()
        last_of_epoch = done == self.steps_per_epoch
        crossed_log = done // self.log_every > before // self.log_every
        crossed_val = any(before < p <= done for p in self.val_points)
        trained = first or stop or last_of_epoch or crossed_log
        if trained:
            self._train_point(batch, logs)
        if crossed_val or stop:
            self.validation_point(batch)
        if not stop and self._stop_set():  # requested while the points above were handled
            stop = True
            self._announce_stop()
            if not trained:
                self._train_point(batch, logs)
            if not crossed_val:
                self.validation_point(batch)
        if stop:
            self.stop_requested = True
            self.model.stop_training = True


class EarlyStopping(keras.callbacks.Callback):
    """Stops after `patience` epochs without a better fused validation accuracy; restores the best."""

    def __init__(self, x_val: np.ndarray, y_val: np.ndarray, patience: int):
        super().__init__()
        self.x_val, self.y_val, self.patience = x_val, y_val, patience
        self.best_accuracy = -1.0
        self.best_epoch: int | None = None
        self.best_weights = None
        self.stopped = False

    def on_epoch_end(self, epoch, logs=None):
        accuracy = score(probabilities(self.model, self.x_val), self.y_val)[FUSED]["accuracy"]
        if accuracy > self.best_accuracy:
            self.best_accuracy, self.best_epoch = accuracy, epoch + 1
            self.best_weights = self.model.get_weights()
        elif epoch + 1 - self.best_epoch >= self.patience:
            self.stopped = True
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


def sample_weights(config: RunConfig, num_examples: int) -> dict[str, np.ndarray] | None:
    """Per-output weights for bagging (bootstrap counts) and for a held-out meta-learner split."""
    fusion = config.fusion
    holdout = uses_holdout(config)
    if not holdout and not fusion.bootstrap:
        return None
    rng = np.random.default_rng(config.training.seed + 4242)
    member_mask = np.ones(num_examples, dtype="float32")
    fused = np.ones(num_examples, dtype="float32")
    if holdout:
        order = rng.permutation(num_examples)
        n_meta = max(1, round(num_examples * fusion.stacking_holdout))
        member_mask[order[:n_meta]] = 0.0  # the meta-learner's share: members never train on it
        fused = 1.0 - member_mask
    weights = {}
    member_rows = np.flatnonzero(member_mask)
    for k in range(fusion.num_members):
        if fusion.bootstrap:
            draws = rng.choice(member_rows, size=len(member_rows), replace=True)
            weights[member_name(k)] = np.bincount(draws, minlength=num_examples).astype("float32")
        else:
            weights[member_name(k)] = member_mask.copy()
    weights[FUSED] = fused
    return weights


def ungroup(model: keras.Model, config: RunConfig, *, jit_compile: bool | str = "auto") -> keras.Model:
    """The standard layout (a Dense per member and layer, `build_model(config)`) with `model`'s weights.

    Identical members train faster as grouped layers (`build_model(config, grouped=True)`), but saved
    models, uploads and diagrams find each member by its layer names (member_k_dense_i).
    """
    grouped = [layer for layer in model.layers if isinstance(layer, GroupedDense)]
    if not grouped:
        return model
    plain = compile_model(build_model(config), config, jit_compile=jit_compile)
    for layer in model.layers:
        if isinstance(layer, GroupedDense):
            for k in range(layer.groups):
                suffix = "" if layer.name == "members_output" else layer.name.removeprefix("members")
                plain.get_layer(member_name(k) + suffix).set_weights(layer.member_weights(k))
        elif layer.weights:
            plain.get_layer(layer.name).set_weights(layer.get_weights())
    return plain


def train(
    config: RunConfig,
    data: Any,
    *,
    on_event: EventHandler | None = None,
    stop_event: threading.Event | None = None,
    on_trained: Callable[[float], None] | None = None,
    log_every: int = LOG_EVERY,
    val_per_epoch: int = VAL_PER_EPOCH,
    monitor_size: int = MONITOR_SIZE,
    jit_compile: bool | str | None = None,
    steps_per_execution: int | None = None,
) -> TrainOutcome:
    """Build, compile and fit the model that `config` describes on `data`.

    `data` has float32 arrays x_train (n, 784), x_val, and int labels y_train, y_val (see
    fusion_core.data.PreparedData). Setting `stop_event` stops training at the end of the current
    execution (`steps_per_execution` batches, chosen so that it takes at most about 0.25 s); the
    weights and the history so far are kept and the outcome's status is 'stopped'.
    `jit_compile=None` lets `choose_jit_compile` decide from the run's length;
    `steps_per_execution=None` lets `choose_steps_per_execution` decide from the model's size.
    `on_trained(epochs)` is called once, the moment the members' training ends: when a stop request
    is honoured (before the last points are measured), else when fit() returns; before a learned
    head is fitted and long before the caller scores the test set.
    """
    t_start = time.perf_counter()
    config.validate()
    keras.utils.set_random_seed(config.training.seed)
    tc = config.training
    n = len(data.x_train)
    steps = -(-n // tc.batch_size)
    if jit_compile is None:
        jit_compile = choose_jit_compile(steps * tc.epochs)
        if jit_compile is True and not device_info()["gpu"] and not registry.xla_on_cpu(config):
            jit_compile = False  # convolutions: XLA on a CPU is slower (fusion_core/registry.py CNN)
    model = build_model(config, grouped=grouped_layout())
    if steps_per_execution is None:
        steps_per_execution = choose_steps_per_execution(model.count_params(), tc.batch_size, log_every)
    model = compile_model(model, config, jit_compile=jit_compile, steps_per_execution=steps_per_execution)
    names = output_names(config)
    x_monitor, y_monitor = data.x_val[:monitor_size], data.y_val[:monitor_size]
    streaming = StreamingCallback(
        names,
        x_monitor,
        y_monitor,
        steps_per_epoch=steps,
        batch_size=tc.batch_size,
        num_examples=n,
        epochs=tc.epochs,
        on_event=on_event,
        stop_event=stop_event,
        log_every=log_every,
        val_per_epoch=val_per_epoch,
        padded_size=steps * tc.batch_size,
    )
    streaming.t0 = t_start
    streaming.on_stop = on_trained
    streaming.set_model(model)
    device = device_info()
    if stop_event is not None and stop_event.is_set():
        plain = ungroup(model, config, jit_compile=jit_compile)
        if on_trained is not None:
            on_trained(0.0)
        return TrainOutcome(plain, "stopped", device=device, steps_per_execution=steps_per_execution)
    # The untrained model's validation point (chance level), before the training function is traced:
    # tracing takes seconds, and the chart should not stay empty meanwhile.
    streaming.validation_point(-1)
    callbacks: list[keras.callbacks.Callback] = [streaming]
    early = None
    if tc.early_stopping_patience > 0:
        early = EarlyStopping(data.x_val, data.y_val, tc.early_stopping_patience)
        callbacks.append(early)

    x, y, weights = pad_to_full_batches(
        data.x_train, data.y_train, sample_weights(config, n), names, tc.batch_size
    )
    t0 = time.perf_counter()
    model.fit(
        x,
        {name: y for name in names},
        sample_weight=weights,
        batch_size=tc.batch_size,
        epochs=tc.epochs,
        shuffle=True,
        verbose=0,
        callbacks=callbacks,
    )
    seconds = time.perf_counter() - t0
    if on_trained is not None and not streaming.stop_requested:  # a stop has announced itself
        on_trained(round(streaming.step / steps, 4))
    # A learned head is then fitted to convergence on the frozen members' held-out outputs; one
    # more validation point shows the fused curve's jump.
    # The head is fitted on the plain layout: ungrouping rebuilds the model, and the head's choice
    # (HeadOrVote.use_vote) lives in the layer's config, which a rebuild would reset.
    model = ungroup(model, config, jit_compile=jit_compile)
    stopped = streaming.stop_requested
    head = fit_head(model, config, data.x_train, data.y_train, members_seconds=seconds, stopped=stopped)
    if head is not None:
        streaming.set_model(model)
        streaming.validation_point(steps - 1)
    epochs_done = streaming.step / steps
    stopped_early = bool(early and early.stopped)
    return TrainOutcome(
        model=model,
        status="stopped" if streaming.stop_requested else "done",
        events=streaming.events,
        epochs_completed=round(epochs_done, 4),
        train_seconds=round(seconds, 3),
        seconds_per_epoch=round(seconds / epochs_done, 3) if epochs_done else 0.0,
        stopped_early=stopped_early,
        best_epoch=early.best_epoch if early else None,
        device=device,
        steps_per_execution=steps_per_execution,
        head=head,
    )
