"""The labs' one-minute plans, trained for real: wall time against their estimate and the minute.

    python bench/bench_minute_plans.py                 # both plans
    python bench/bench_minute_plans.py --only cost

Each plan's runs (ui/presets.py: Robustness's single network and '1 minute' fusion, Cost's five
runs) are submitted to a fresh, empty run store and trained one after another in this process
through fusion_core.jobs (what one worker does: load the data, train, score the test set, save).
Prints the estimate the page shows before anything is stored, the measured wall time, both as a
ratio to the 60 s goal, and each run's fused test accuracy on the real MNIST. For Robustness also
the fused accuracy of both runs under Gaussian noise (fusion_core.experiments.robustness_curve), the
point the plan is there to show.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PLANS = ("robustness", "cost")


def run_plan(name: str) -> None:
    from fusion_core import jobs
    from fusion_core.data import load_mnist
    from fusion_core.store import RunStore
    from ui.presets import MINUTE_SECONDS, cost_minute_configs, plan_seconds, robust_minute_configs

    configs = robust_minute_configs() if name == "robustness" else cost_minute_configs()
    estimate = plan_seconds(configs)
    mnist = load_mnist()  # loaded once, as a warm worker holds it
    with tempfile.TemporaryDirectory() as home:
        store = RunStore(Path(home) / "runs.sqlite")
        os.environ["FUSION_LAB_HOME"] = home
        t0 = time.perf_counter()
        ids = [jobs.submit(store, c, name=f"{name} 1 minute", kind=name) for c in configs]
        for run_id in ids:
            jobs.run_here(store, run_id, data_loader=lambda: mnist)
        wall = time.perf_counter() - t0
        runs = [store.get_run(i) for i in ids]
        print(f"{name}: {len(ids)} runs, estimate {estimate:.0f} s ({estimate / MINUTE_SECONDS:.2f} of the "
              f"minute), measured {wall:.1f} s ({wall / MINUTE_SECONDS:.2f} of the minute)")  # fmt: skip
        for config, run in zip(configs, runs, strict=True):
            results = run.get("results") or {}
            print(
                f"  {config.describe():<40} {run['status']:<6} {100 * results.get('fused_accuracy', 0):.2f}%"
            )
        if name == "robustness":
            noise_curves(runs, mnist)
        store.close()


def noise_curves(runs: list[dict], mnist) -> None:
    from fusion_core.experiments import robustness_curve
    from fusion_core.models import load_model
    from fusion_core.perturb import PERTURBATIONS

    strengths = PERTURBATIONS["gaussian_noise"].sweep
    print("  fused accuracy under Gaussian noise, sigma = " + ", ".join(f"{s:g}" for s in strengths))
    for run in runs:
        rows = robustness_curve(load_model(run["model_path"]), mnist.x_test, mnist.y_test, "gaussian_noise",
                                strengths)  # fmt: skip
        fused = [r["accuracy"] for r in rows if r["output"] == "fused"]
        print(f"  run {run['id']}: " + "  ".join(f"{100 * a:.1f}%" for a in fused))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PLANS), help="comma separated: " + ", ".join(PLANS))
    args = parser.parse_args(argv)
    for name in args.only.split(","):
        if name not in PLANS:
            parser.error(f"unknown plan {name!r}; choose from {', '.join(PLANS)}")
        run_plan(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
