"""The reference result Learn shows under "Members must err differently" before a visitor has runs.

    python bench/bench_diversity_reference.py                 # writes ui/reference/diversity.json
    python bench/bench_diversity_reference.py --out /tmp/d.json --seed 1

Trains, on the real MNIST, the two fusions Learn compares, at the Train page's '1 minute' budget
(2 epochs on 20,000 images, Adam, batch 128): three identical MLPs (the article's network, each its
own random start) and an MLP + CNN + LSTM (the '1 minute' preset itself), both soft votes. Each
one's diversity numbers (fusion_core.diversity: disagreement, error correlation, oracle, best member,
fusion) go into a small JSON file with the date, the settings and the seconds each run took;
ui/diversity_ui.py shows them with that date and those settings.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fusion_core.config import RunConfig, make_config  # noqa: E402
from fusion_core.data import load_mnist, prepare_data  # noqa: E402
from fusion_core.evaluate import evaluate  # noqa: E402
from fusion_core.train import train  # noqa: E402
from ui.presets import PRESETS  # noqa: E402

OUT = ROOT / "ui" / "reference" / "diversity.json"


def configs(seed: int) -> dict[str, RunConfig]:
    """'identical' and 'mixed', trained alike: only the members' kinds differ."""
    mixed = make_config(**PRESETS["minute"], seed=seed)
    tc = mixed.training
    identical = make_config("parallel", 3, "soft", optimizer=tc.optimizer, learning_rate=tc.learning_rate,
                            batch_size=tc.batch_size, epochs=tc.epochs, train_size=tc.train_size,
                            seed=seed)  # fmt: skip
    return {"identical": identical, "mixed": mixed}


def measure(config: RunConfig) -> dict:
    import keras

    keras.backend.clear_session()
    t0 = time.perf_counter()
    tc = config.training
    data = prepare_data(load_mnist(), tc.train_size, tc.validation_fraction, tc.seed)
    outcome = train(config, data)
    results = evaluate(outcome.model, data.x_test, data.y_test, config.fusion.num_members)
    return {
        "config": config.to_dict(),
        "kinds": config.kinds(),
        "n_train": data.n_train,
        "seconds": round(time.perf_counter() - t0, 1),
        "diversity": results["diversity"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    runs = {}
    for group, config in configs(args.seed).items():
        runs[group] = measure(config)
        d = runs[group]["diversity"]
        print(f"{group:<9} best member {d['best_member_accuracy']:.2%}  fusion {d['fused_accuracy']:.2%}  "
              f"oracle {d['oracle_accuracy']:.2%}  disagreement {d['mean_disagreement']:.2%}  "
              f"error correlation {d['mean_error_correlation']:.2f}  {runs[group]['seconds']:.0f} s",
              flush=True)  # fmt: skip
    import keras

    reference = {
        "date": dt.date.today().isoformat(),
        "measured_by": "bench/bench_diversity_reference.py",
        "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}, Keras {keras.__version__} "
        f"on {keras.backend.backend()}",
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(reference, indent=1, sort_keys=True) + "\n")
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
