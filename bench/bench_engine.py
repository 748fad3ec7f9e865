"""Engine benchmarks on the real MNIST. Each prints ratios measured side by side in one run.

    python bench/bench_engine.py overhead   # trainer with streaming vs bare model.fit      (goal <= 1.05)
    python bench/bench_engine.py joint      # 5 members in one joint fit vs 5 separate fits  (goal <= 0.5)
    python bench/bench_engine.py epoch      # seconds per epoch, XLA on/off, vs physical limit
    python bench/bench_engine.py latency    # one image through a 5-member fusion, median ms (goal < 10)
    python bench/bench_engine.py accuracy   # article net 5 epochs (>= 98.0%), 5-member soft vote (>= 98.4%)

Run under another backend with KERAS_BACKEND=jax. Not a test: these machines are shared and noisy,
so only ratios measured in the same run mean anything. Results and method: docs/PERFORMANCE.md.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from fusion_core.config import make_config  # noqa: E402
from fusion_core.data import load_mnist, prepare_data  # noqa: E402
from fusion_core.evaluate import evaluate, predict_one  # noqa: E402
from fusion_core.models import build_model, compile_model, output_names  # noqa: E402
from fusion_core.train import choose_jit_compile, train  # noqa: E402

# Rough physical limit of the article's network on 2 cores (../shared/notes/stack.md):
# 6 x 670k parameters x 60k samples = 2.4e11 FLOP per epoch at about 190 GFLOP/s of fp32 FMA.
PHYSICAL_LIMIT_S_PER_EPOCH = 1.3
TRAIN_SIZE = 60_000


def data(validation_fraction: float = 0.1):
    return prepare_data(load_mnist(), TRAIN_SIZE, validation_fraction, seed=0)


def default_jit(config, d):
    """The XLA setting train() picks for this run, so both sides of a ratio use the same one."""
    steps = -(-len(d.x_train) // config.training.batch_size)
    return choose_jit_compile(steps * config.training.epochs)


def bare_fit_seconds(config, d, *, jit_compile=None, epochs=1) -> float:
    """Bare `model.fit` of the same model: no streaming, no validation points."""
    keras.utils.set_random_seed(config.training.seed)
    if jit_compile is None:
        jit_compile = default_jit(config, d)
    model = compile_model(build_model(config), config, jit_compile=jit_compile)
    names = output_names(config)
    # Build, compile and tracing are inside the timing, as they are inside train(): like for like.
    t0 = time.perf_counter()
    model.fit(
        d.x_train,
        {n: d.y_train for n in names},
        batch_size=config.training.batch_size,
        epochs=epochs,
        shuffle=True,
        verbose=0,
    )
    return time.perf_counter() - t0


def trainer_seconds(config, d, *, jit_compile=None) -> float:
    t0 = time.perf_counter()
    train(config, d, jit_compile=jit_compile, on_event=lambda e: None)
    return time.perf_counter() - t0


def bench_overhead(d) -> dict:
    """Interleaved, repeated, so drift on a shared machine hits both sides alike."""
    config = make_config("single", epochs=1)
    bare, ours = [], []
    for _ in range(3):
        bare.append(bare_fit_seconds(config, d))
        ours.append(trainer_seconds(config, d))
    b, o = statistics.median(bare), statistics.median(ours)
    return {"bare_fit_s": round(b, 2), "trainer_s": round(o, 2), "ratio": round(o / b, 3), "goal": "<= 1.05"}


def bench_joint(d) -> dict:
    joint_cfg = make_config("parallel", num_members=5, rule="soft", epochs=1)
    single_cfg = make_config("single", epochs=1)
    separate = 0.0
    for k in range(5):
        single_cfg.training.seed = k
        separate += bare_fit_seconds(single_cfg, d)
    joint = bare_fit_seconds(joint_cfg, d)
    return {
        "five_separate_fits_s": round(separate, 2),
        "one_joint_fit_s": round(joint, 2),
        "ratio": round(joint / separate, 3),
        "goal": "<= 0.5",
    }


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
