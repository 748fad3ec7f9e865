"""Cost of each member kind: one warm epoch at batch 128, as a ratio to the article's MLP.

    python bench/bench_kinds.py            # 12,000 random 28x28 images, extrapolated to 60,000
    python bench/bench_kinds.py 6000       # another number of images

Each kind is a single network in its default shape (MLP 512-512, CNN conv5x5(16)-pool-
conv5x5(32)-pool-Dense 128, LSTM 64 over the 28 rows), built by fusion_core like any run. The first
epoch (building and tracing) is not timed; the second is. Random inputs: the cost of an epoch does
not depend on what the pixels show. Not a test: the machines are shared and noisy, so read the
ratios, measured one after the other in one run, not the seconds. Results: docs/PERFORMANCE.md.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from fusion_core.config import MEMBER_KINDS, make_config  # noqa: E402
from fusion_core.models import build_model, compile_model, output_names  # noqa: E402
from fusion_core.registry import member_kind, parameter_counts  # noqa: E402

BATCH_SIZE = 128
FULL_EPOCH = 60_000  # images in an epoch on the full training set


def warm_epoch_seconds(kind: str, x: np.ndarray, y: np.ndarray, jit_compile: bool | str) -> float:
    config = make_config("single", kinds=kind, batch_size=BATCH_SIZE)
    keras.utils.set_random_seed(0)
    model = compile_model(build_model(config), config, jit_compile=jit_compile)
    targets = {name: y for name in output_names(config)}
    model.fit(x, targets, batch_size=BATCH_SIZE, epochs=1, verbose=0)  # building and tracing
    t0 = time.perf_counter()
    model.fit(x, targets, batch_size=BATCH_SIZE, epochs=1, verbose=0)
    return time.perf_counter() - t0


def main(argv: list[str]) -> int:
    images = int(argv[0]) if argv else 12_000
    rng = np.random.default_rng(0)
    x = rng.random((images, 28 * 28), dtype=np.float32)
    y = rng.integers(0, 10, images)
    backend = keras.backend.backend()
    print(f"backend {backend}, {images:,} random images, batch {BATCH_SIZE}", flush=True)
    # TensorFlow: train() compiles long runs with XLA and short ones without, so both are measured.
    settings = {"no XLA": False, "XLA": True} if backend == "tensorflow" else {"compiled": "auto"}
    print("| kind | parameters | " + " | ".join(f"{s}: epoch | ratio" for s in settings) + " | cost_ratio |")
    print("| --- | --- | " + " | ".join("--- | ---" for _ in settings) + " | --- |")
    seconds = {
        (kind, name): warm_epoch_seconds(kind, x, y, jit) * FULL_EPOCH / images
        for name, jit in settings.items()
        for kind in MEMBER_KINDS
    }
    for kind in MEMBER_KINDS:
        config = make_config("single", kinds=kind)
        params = parameter_counts(config)["total"]
        cells = [f"{seconds[kind, s]:.1f} s | {seconds[kind, s] / seconds['mlp', s]:.2f}" for s in settings]
        modelled = member_kind(config.member).cost_ratio
        print(f"| {kind} | {params:,} | {' | '.join(cells)} | {modelled:g} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
