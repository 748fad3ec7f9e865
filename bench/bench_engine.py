"""Engine benchmarks on the real MNIST. Each prints ratios measured side by side in one run.

    python bench/bench_engine.py overhead   # trainer with streaming vs bare model.fit      (goal <= 1.03)
    python bench/bench_engine.py joint      # 5 members in one joint fit vs 5 separate fits  (goal <= 0.5)
    python bench/bench_engine.py first      # train() -> first event, quick 3-member model   (goal <= 2 s)
    python bench/bench_engine.py stop       # Stop requested -> train() returns              (goal <= 0.5 s)
    python bench/bench_engine.py epoch      # seconds per epoch, XLA on/off, vs physical limit
    python bench/bench_engine.py latency    # one image through a 5-member fusion, median ms (goal < 10)
    python bench/bench_engine.py accuracy   # article net 5 epochs (>= 98.0%), 5-member soft vote (>= 98.4%)

Run under another backend with KERAS_BACKEND=jax; REPEATS=5 for more interleaved repeats (default 3).
Not a test: these machines are shared and noisy, so only ratios measured in the same run mean
anything, and the sides of a ratio are interleaved (A B A B ...). Every fit counts how often its
training step was traced (a trace is a compilation: XLA on JAX and with jit_compile on TensorFlow).
Results and method: docs/PERFORMANCE.md.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import fusion_core.train as trainer  # noqa: E402
from fusion_core.config import make_config  # noqa: E402
from fusion_core.data import load_mnist, prepare_data  # noqa: E402
from fusion_core.evaluate import evaluate, predict_one  # noqa: E402
from fusion_core.models import build_model, compile_model, output_names  # noqa: E402
from fusion_core.train import (  # noqa: E402
    LOG_EVERY,
    choose_jit_compile,
    choose_steps_per_execution,
    grouped_layout,
    pad_to_full_batches,
    train,
)

# Rough physical limit of the article's network on 2 cores (../shared/notes/stack.md):
# 6 x 670k parameters x 60k samples = 2.4e11 FLOP per epoch at about 190 GFLOP/s of fp32 FMA.
PHYSICAL_LIMIT_S_PER_EPOCH = 1.3
TRAIN_SIZE = 60_000
REPEATS = int(os.environ.get("REPEATS", "3"))
GROUPED = grouped_layout()  # the members' layout train() chooses on this backend and device


def data(validation_fraction: float = 0.1, train_size: int = TRAIN_SIZE):
    return prepare_data(load_mnist(), train_size, validation_fraction, seed=0)


def default_jit(config, d):
    """The XLA setting train() picks for this run, so both sides of a ratio use the same one."""
    steps = -(-len(d.x_train) // config.training.batch_size)
    return choose_jit_compile(steps * config.training.epochs)


def count_traces(model: keras.Model) -> list[int]:
    """Counts the Python runs of the model's training step: one per trace (compilation)."""
    counter = [0]
    inner = model.train_step

    def counting(*args, **kwargs):
        counter[0] += 1
        return inner(*args, **kwargs)

    model.train_step = counting
    return counter


class EpochTimer(keras.callbacks.Callback):
    """Epoch-level only: Keras syncs no batch logs for it, so it costs a bare fit nothing."""

    def __init__(self):
        super().__init__()
        self.times: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._t)


def bare_fit(
    config, d, *, padded: bool = True, keras_defaults: bool = False, grouped: bool | None = None
) -> dict:
    """Bare `model.fit` of the same model: no streaming, no validation points, no events.

    Like for like with train(): building, compiling, padding and tracing are inside the timing, with
    the same XLA setting, steps per execution, padded layout and grouped members. `keras_defaults`
    fits as a plain Keras script would (one step per execution, the last batch partial); `grouped`
    overrides train()'s choice of the members' layout (`grouped_layout`), for comparison.
    """
    if grouped is None:
        grouped = GROUPED
    t0 = time.perf_counter()
    keras.utils.set_random_seed(config.training.seed)
    bs = config.training.batch_size
    model = build_model(config, grouped=grouped and not keras_defaults)
    spe = 1 if keras_defaults else choose_steps_per_execution(model.count_params(), bs, LOG_EVERY)
    model = compile_model(model, config, jit_compile=default_jit(config, d), steps_per_execution=spe)
    traces = count_traces(model)
    names = output_names(config)
    x, y, w = d.x_train, d.y_train, None
    if padded and not keras_defaults:
        x, y, w = pad_to_full_batches(x, y, None, names, bs)
    timer = EpochTimer()
    model.fit(
        x,
        {n: y for n in names},
        sample_weight=w,
        batch_size=bs,
        epochs=config.training.epochs,
        shuffle=True,
        verbose=0,
        callbacks=[timer],
    )
    seconds = time.perf_counter() - t0
    return {"s": seconds, "traces": traces[0], "warm_epoch_s": timer.times[-1], "spe": spe}


def trainer_run(config, d) -> dict:
    """The whole `train()` call, with its tracing counted; the warm epoch from its own events."""
    counters = []
    original = trainer.compile_model

    def instrumented(model, *args, **kwargs):
        model = original(model, *args, **kwargs)
        counters.append(count_traces(model))
        return model

    trainer.compile_model = instrumented
    try:
        events = []
        t0 = time.perf_counter()
        outcome = train(config, d, on_event=events.append)
        seconds = time.perf_counter() - t0
    finally:
        trainer.compile_model = original
    total = events[-1]["total_steps"]
    per_epoch = total // config.training.epochs
    ends = [e["elapsed"] for e in events if e["split"] == "train" and e["step"] % per_epoch == 0]
    return {
        "s": seconds,
        "traces": counters[0][0],
        "warm_epoch_s": ends[-1] - ends[-2] if len(ends) > 1 else float("nan"),
        "spe": outcome.steps_per_execution,
        "first_event_s": events[0]["elapsed"],
    }


def interleaved(sides: dict, repeats: int = REPEATS) -> dict[str, list[dict]]:
    """A B C A B C ...: drift on a shared machine hits every side alike."""
    results: dict[str, list[dict]] = {name: [] for name in sides}
    for _ in range(repeats):
        for name, run in sides.items():
            results[name].append(run())
    return results


def summary(runs: list[dict]) -> dict:
    """Medians. `one_epoch_s`: the call without its second epoch, i.e. a one-epoch fit, compilation
    included (how the baseline in docs/PERFORMANCE.md was measured)."""
    return {
        "s": round(statistics.median(r["s"] for r in runs), 2),
        "all_s": [round(r["s"], 2) for r in runs],
        "one_epoch_s": round(statistics.median(r["s"] - r["warm_epoch_s"] for r in runs), 2),
        "warm_epoch_s": round(statistics.median(r["warm_epoch_s"] for r in runs), 3),
        "traces": sorted({r["traces"] for r in runs}),
        "steps_per_execution": runs[0]["spe"],
    }


def bench_overhead(d) -> dict:
    """train() vs a bare fit with the same steps per execution, XLA setting and padded layout.

    Two epochs each, so the same run gives the whole-call ratio (compilation included, the goal)
    and the warm-epoch ratio (the second epoch).
    """
    config = make_config("single", epochs=2)
    runs = interleaved(
        {
            "trainer": lambda: trainer_run(config, d),
            "bare_fit": lambda: bare_fit(config, d),
            "keras_defaults": lambda: bare_fit(config, d, keras_defaults=True),
        }
    )
    out = {name: summary(r) for name, r in runs.items()}
    paired = [t["s"] / b["s"] for t, b in zip(runs["trainer"], runs["bare_fit"], strict=True)]
    out["ratio"] = round(out["trainer"]["s"] / out["bare_fit"]["s"], 3)
    out["one_epoch_ratio"] = round(out["trainer"]["one_epoch_s"] / out["bare_fit"]["one_epoch_s"], 3)
    out["paired_ratios"] = [round(r, 3) for r in paired]
    out["warm_epoch_ratio"] = round(out["trainer"]["warm_epoch_s"] / out["bare_fit"]["warm_epoch_s"], 3)
    out["goal"] = "ratio <= 1.03"
    return out


def bench_joint(d, members: int = 5) -> dict:
    """One joint fit of 5 members vs 5 separate fits; building and tracing on both sides.

    The joint fit uses train()'s layout (`grouped_layout`: grouped matrix products, or one branch of
    Dense layers per member); `joint_other_layout` is the same joint fit with the other layout.
    """
    joint_cfg = make_config("parallel", num_members=members, rule="soft", epochs=2)

    def separate() -> dict:
        parts = []
        for k in range(members):
            parts.append(bare_fit(make_config("single", epochs=2, seed=k), d))
        return {
            "s": sum(p["s"] for p in parts),
            "warm_epoch_s": sum(p["warm_epoch_s"] for p in parts),
            "traces": sum(p["traces"] for p in parts),
            "spe": parts[0]["spe"],
        }

    runs = interleaved(
        {
            "one_joint_fit": lambda: bare_fit(joint_cfg, d),
            "five_separate_fits": separate,
            "joint_other_layout": lambda: bare_fit(joint_cfg, d, grouped=not GROUPED),
        }
    )
    out = {name: summary(r) for name, r in runs.items()}
    out["layout"] = "grouped" if GROUPED else "one branch per member"
    out["other_layout_one_epoch_ratio"] = round(
        out["joint_other_layout"]["one_epoch_s"] / out["five_separate_fits"]["one_epoch_s"], 3
    )
    out["other_layout_warm_epoch_ratio"] = round(
        out["joint_other_layout"]["warm_epoch_s"] / out["five_separate_fits"]["warm_epoch_s"], 3
    )
    out["ratio"] = round(out["one_joint_fit"]["s"] / out["five_separate_fits"]["s"], 3)
    out["one_epoch_ratio"] = round(
        out["one_joint_fit"]["one_epoch_s"] / out["five_separate_fits"]["one_epoch_s"], 3
    )
    out["warm_epoch_ratio"] = round(
        out["one_joint_fit"]["warm_epoch_s"] / out["five_separate_fits"]["warm_epoch_s"], 3
    )
    out["goal"] = "one_epoch_ratio <= 0.5 (build and tracing included; `ratio`: two epochs)"
    return out


def quick_config():
    """The dashboard's quick preset (ui/presets.py): 3 members of 128 units, 1 epoch, 10,000 images."""
    return make_config("parallel", num_members=3, rule="soft", hidden_layers=1, hidden_units=128, epochs=1)


def bench_first(d) -> dict:
    """train() -> its first event with a warm worker (imports done, one run before)."""
    small = data(train_size=10_000)
    config = quick_config()
    train(config, small)  # the warm worker has trained before
    firsts, first_train, wholes = [], [], []
    for _ in range(REPEATS):
        events = []
        t0 = time.perf_counter()
        train(config, small, on_event=lambda e, ev=events, t=t0: ev.append((time.perf_counter() - t, e)))
        wholes.append(time.perf_counter() - t0)
        firsts.append(events[0][0])
        first_train.append(next(t for t, e in events if e["split"] == "train"))
    return {
        "first_event_s": round(statistics.median(firsts), 2),
        "all_first_event_s": [round(t, 2) for t in firsts],
        "first_training_point_s": round(statistics.median(first_train), 2),
        "whole_run_s": round(statistics.median(wholes), 2),
        "goal": "first_event_s <= 2",
    }


def bench_stop(d) -> dict:
    """Stop requested 1 s after the first training point -> train() returns."""
    out = {}
    for label, config in {
        "article_single": make_config("single", epochs=1),
        "parallel5_soft": make_config("parallel", num_members=5, rule="soft", epochs=1),
    }.items():
        latencies, spe = [], None
        for _ in range(REPEATS):
            stop = threading.Event()
            asked = []

            def on_event(event, stop=stop, asked=asked):
                if event["split"] == "train" and not asked:
                    timer = threading.Timer(1.0, lambda: (asked.append(time.perf_counter()), stop.set()))
                    asked.append(timer)
                    timer.start()

            outcome = train(config, d, on_event=on_event, stop_event=stop)
            asked[0].cancel()
            if len(asked) > 1:  # the run had not ended by itself first
                latencies.append(time.perf_counter() - asked[1])
            spe = outcome.steps_per_execution
        out[label] = {
            "steps_per_execution": spe,
            "stop_latency_s": round(statistics.median(latencies), 3),
            "max_s": round(max(latencies), 3),
        }
    out["goal"] = "<= 0.5 s"
    return out


def bench_epoch(d) -> dict:
    """Seconds per epoch (second epoch of two, after tracing) with XLA on and off."""
    config = make_config("single", epochs=1)
    out = {"backend": keras.backend.backend()}
    on_tf = keras.backend.backend() == "tensorflow"
    settings = {"xla": True, "no_xla": False} if on_tf else {"default": "auto"}
    for label, jit in settings.items():
        keras.utils.set_random_seed(0)
        model = compile_model(build_model(config), config, jit_compile=jit)
        names = output_names(config)
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            model.fit(d.x_train, {n: d.y_train for n in names}, batch_size=128, epochs=1, verbose=0)
            times.append(time.perf_counter() - t0)
        out[f"{label}_first_epoch_s"] = round(times[0], 2)
        out[f"{label}_warm_epoch_s"] = round(times[1], 2)
        out[f"{label}_vs_physical_limit"] = round(times[1] / PHYSICAL_LIMIT_S_PER_EPOCH, 2)
    return out


def bench_latency() -> dict:
    model = build_model(make_config("parallel", num_members=5, rule="soft"))
    image = np.random.default_rng(0).random((28, 28)).astype("float32")
    for _ in range(5):
        predict_one(model, image)
    times = []
    for _ in range(200):
        t0 = time.perf_counter()
        predict_one(model, image)
        times.append((time.perf_counter() - t0) * 1000)
    median = statistics.median(times)
    stroke = stroke_latency_ms(model)
    return {
        "median_ms": round(median, 2),
        "p90_ms": round(float(np.percentile(times, 90)), 2),
        "ratio_to_goal": round(median / 10.0, 3),
        "goal": "< 10 ms",
        "stroke_through_predictor_median_ms": round(stroke, 2),
        "stroke_ratio_to_in_process": round(stroke / median, 2),
        "stroke_goal": "<= 500 ms",
    }


def stroke_latency_ms(model, repeats: int = 100) -> float:
    """A canvas stroke as the Draw page handles it: MNIST preprocessing of the 280x280 RGBA image,
    then the warm prediction process (a request over its socket), median ms."""
    import tempfile

    from fusion_core.predictor_client import PredictorClient
    from fusion_core.preprocess import to_mnist

    canvas = np.full((280, 280, 4), 255, np.uint8)
    canvas[40:240, 130:148, :3] = 0
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "latency.keras"
        model.save(path)
        client = PredictorClient()
        try:
            client.load(path)
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                client.predict(path, to_mnist(canvas))
                times.append((time.perf_counter() - t0) * 1000)
        finally:
            client.close()
    return statistics.median(times)


def bench_accuracy(d) -> dict:
    out = {}
    for label, config in {
        "article_single": make_config("single"),
        "parallel5_soft": make_config("parallel", num_members=5, rule="soft"),
    }.items():
        t0 = time.perf_counter()
        outcome = train(config, d)
        results = evaluate(outcome.model, d.x_test, d.y_test, config.fusion.num_members)
        out[label] = {
            "fused_test_accuracy": round(results["fused_accuracy"], 4),
            "best_member_accuracy": round(results["best_member_accuracy"], 4),
            "gain_over_best_member": round(results["gain_over_best_member"], 4),
            "seconds": round(time.perf_counter() - t0, 1),
        }
    out["goals"] = "single >= 0.980; parallel5 >= 0.984 and above its best member"
    return out


def main(argv: list[str]) -> int:
    benches = {
        "overhead": bench_overhead,
        "joint": bench_joint,
        "first": bench_first,
        "stop": bench_stop,
        "epoch": bench_epoch,
        "latency": bench_latency,
        "accuracy": bench_accuracy,
    }
    wanted = argv or list(benches)
    unknown = [name for name in wanted if name not in benches]
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(benches)}", file=sys.stderr)
        return 2
    print(f"backend {keras.backend.backend()}, {os.cpu_count()} CPUs", flush=True)
    d = data() if any(name != "latency" for name in wanted) else None
    for name in wanted:
        t0 = time.perf_counter()
        result = benches[name]() if name == "latency" else benches[name](d)
        print(f"{name:<9} {json.dumps(result)}  ({time.perf_counter() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
