"""What one training image and one compiled call cost, per member kind and batch size (real MNIST).

    python bench/bench_step_cost.py                 # MLP, CNN, LSTM at batch 32 and 128, 12,000 images
    python bench/bench_step_cost.py --images 6000 --epochs 1

Each line trains one default-shaped member with `fusion_core.train.train` as the app does
(steps_per_execution and XLA chosen by train(), unless a row sets them) and prints the seconds of
model.fit, tracing included, per epoch and per image, with the load average beside it. The
differences between batch sizes give the fixed cost of one call of the compiled function, which
fusion_core/limits.py models (docs/PERFORMANCE.md, "Time estimate"). A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fusion_core.config import make_config  # noqa: E402
from fusion_core.data import load_mnist, prepare_data  # noqa: E402
from fusion_core.limits import estimate  # noqa: E402
from fusion_core.train import train  # noqa: E402

# (kind, batch size, XLA, steps per call): None lets train() choose, as the app does.
ROWS = [(kind, batch, None, None) for kind in ("mlp", "cnn", "lstm") for batch in (32, 128)]
ROWS += [("mlp", 32, None, 1)]  # one step per call: the difference is the cost of a call
ROWS += [("mlp", 32, True, None), ("lstm", 32, True, None)]  # XLA, as for runs of 2,500+ steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12_000)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args(argv)
    mnist = load_mnist()
    print("kind  batch  xla    spe  calls/epoch  s/epoch  us/image  estimate s/epoch  load")
    for kind, batch, xla, spe in ROWS:
        import keras

        keras.backend.clear_session()
        config = make_config("single", kind=kind, batch_size=batch, epochs=args.epochs,
                             train_size=args.images, validation_fraction=0.0, seed=0)  # fmt: skip
        data = prepare_data(mnist, args.images, 0.0, 0)
        outcome = train(config, data, jit_compile=xla, steps_per_execution=spe)
        per_epoch = outcome.train_seconds / args.epochs
        calls = -(-args.images // batch) / outcome.steps_per_execution
        load = os.getloadavg()[0]
        est = estimate(config).seconds_per_epoch
        print(f"{kind:<5} {batch:<6} {xla!s:<6} {outcome.steps_per_execution:<4} {calls:<12.0f} "
              f"{per_epoch:<8.2f} {1e6 * per_epoch / args.images:<9.1f} {est:<17.2f} {load:.1f}",
              flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
