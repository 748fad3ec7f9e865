"""Train a fused model jointly, streaming progress to a callback and honouring stop requests.

`train()` runs one `model.fit` for all members (a loss each, plus the fusion's). A Keras callback
turns the batch logs into events:

    {"split": "train" | "val", "step": 120, "epoch": 0.26, "seen": 15360, "elapsed": 3.1,
     "total_steps": 2345, "series": {"member_0": {"loss": 0.41, "accuracy": 0.88}, ..., "fused": {...}}}

Training points cover the last `log_every` batches; validation points are measured 4 times per
epoch on a fixed subset of the validation set, so even a one-epoch run draws a curve.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from fusion_core.config import RunConfig
from fusion_core.device import device_info
from fusion_core.heads import fit_head
from fusion_core.models import FUSED, build_model, compile_model, member_name, output_names, uses_holdout

EventHandler = Callable[[dict], None]

LOG_EVERY = 20  # batches between training points
VAL_PER_EPOCH = 4  # validation points per epoch
MONITOR_SIZE = 1000  # validation images scored at each validation point
# On TensorFlow, XLA compilation costs about 3 s up front and saves about 1.3 ms per step of the
# article's network on two cores (docs/PERFORMANCE.md): worth it only for longer runs.
XLA_MIN_STEPS = 2500


def choose_jit_compile(total_steps: int) -> bool | str:
    """XLA for long TensorFlow runs only; other backends keep Keras's choice (JAX always compiles)."""
    if keras.backend.backend() != "tensorflow":
        return "auto"
    return total_steps >= XLA_MIN_STEPS


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
    """Bridges Keras's batch logs to plain event dicts, and stop requests to `stop_training`."""

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
    ):
        super().__init__()
        self.names = names
        self.x_monitor, self.y_monitor = x_monitor, y_monitor
        self.steps_per_epoch = steps_per_epoch
        self.batch_size = batch_size
        self.num_examples = num_examples
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
        self.t0 = time.perf_counter()
        self._window_start = (0, {})  # (examples seen this epoch, cumulative means) at the last point

    # -- helpers ------------------------------------------------------------------------------
    def _emit(self, split: str, batch: int, series: dict) -> None:
        event = {
            "split": split,
            "step": self.step,
            "epoch": round(self.epoch + (batch + 1) / self.steps_per_epoch, 4),
            "seen": min(self.step * self.batch_size, self.epochs * self.num_examples),
            "elapsed": round(time.perf_counter() - self.t0, 3),
            "total_steps": self.steps_per_epoch * self.epochs,
            "series": series,
        }
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    def _train_point(self, batch: int, logs: dict) -> None:
        seen_now = min((batch + 1) * self.batch_size, self.num_examples)
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
                values[metric] = min(max(window, 0.0), 1.0) if metric == "accuracy" else max(window, 0.0)
            series[name] = values
        self._window_start = (seen_now, means_now)
        self._emit("train", batch, series)

    def validation_point(self, batch: int) -> None:
        self._emit("val", batch, score(probabilities(self.model, self.x_monitor), self.y_monitor))

    # -- Keras hooks --------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self.t0 = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self._window_start = (0, {})

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        logs = logs or {}
        stop = self.stop_event is not None and self.stop_event.is_set()
        last_of_epoch = batch + 1 == self.steps_per_epoch
        first = self.step == 1  # a point at once, so a chart starts moving before batch 20
        if first or stop or last_of_epoch or (batch + 1) % self.log_every == 0:
            self._train_point(batch, logs)
        if (batch + 1) in self.val_points or (stop and (batch + 1) not in self.val_points):
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


def train(
    config: RunConfig,
    data: Any,
    *,
    on_event: EventHandler | None = None,
    stop_event: threading.Event | None = None,
    log_every: int = LOG_EVERY,
    val_per_epoch: int = VAL_PER_EPOCH,
    monitor_size: int = MONITOR_SIZE,
    jit_compile: bool | str | None = None,
) -> TrainOutcome:
    """Build, compile and fit the model that `config` describes on `data`.

    `data` has float32 arrays x_train (n, 784), x_val, and int labels y_train, y_val (see
    fusion_core.data.PreparedData). Setting `stop_event` stops training after the current batch;
    the weights and the history so far are kept and the outcome's status is 'stopped'.
    `jit_compile=None` lets `choose_jit_compile` decide from the run's length.
    """
    config.validate()
    keras.utils.set_random_seed(config.training.seed)
    tc = config.training
    n = len(data.x_train)
    steps = -(-n // tc.batch_size)
    if jit_compile is None:
        jit_compile = choose_jit_compile(steps * tc.epochs)
    model = compile_model(build_model(config), config, jit_compile=jit_compile)
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
    )
    callbacks: list[keras.callbacks.Callback] = [streaming]
    early = None
    if tc.early_stopping_patience > 0:
        early = EarlyStopping(data.x_val, data.y_val, tc.early_stopping_patience)
        callbacks.append(early)
    if stop_event is not None and stop_event.is_set():
        return TrainOutcome(model=model, status="stopped", device=device_info())

    t0 = time.perf_counter()
    model.fit(
        data.x_train,
        {name: data.y_train for name in names},
        sample_weight=sample_weights(config, n),
        batch_size=tc.batch_size,
        epochs=tc.epochs,
        shuffle=True,
        verbose=0,
        callbacks=callbacks,
    )
    seconds = time.perf_counter() - t0
    # A learned head is then fitted to convergence on the frozen members' held-out outputs; one
    # more validation point shows the fused curve's jump.
    stopped = streaming.stop_requested
    head = fit_head(model, config, data.x_train, data.y_train, members_seconds=seconds, stopped=stopped)
    if head is not None:
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
        device=device_info(),
        head=head,
    )
