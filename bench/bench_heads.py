"""Learned fusion heads against their best member on the real MNIST: fused minus best member.

    python bench/bench_heads.py                      # the whole grid (long: tens of minutes)
    python bench/bench_heads.py --points 1x1000      # one budget: epochs x training images
    python bench/bench_heads.py --points 1x1000,3x5000 --members 3 --rules stacking,meta

Every learned rule (stacking, hybrid meta-network, feature head, learned weights) x budget
(1 epoch on 1,000 images, 3 on 5,000, 5 on all) x members (3 and 5), with identical members (and,
once other member kinds exist, mixed ones via --kinds). Prints, per point, the fused and best-member
test accuracy, their difference in points (the guarantee: >= -1), what the head phase did (kept or
the soft vote, with its reason) and the head phase's seconds as a share of the members' fit.
A benchmark, not a test: it prints numbers, the reader judges them (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fusion_core.config import MNIST_TRAIN_SIZE, make_config  # noqa: E402
from fusion_core.data import load_mnist, prepare_data  # noqa: E402
from fusion_core.evaluate import evaluate  # noqa: E402
from fusion_core.registry import FUSIONS  # noqa: E402
from fusion_core.train import train  # noqa: E402

POINTS = ((1, 1_000), (3, 5_000), (5, MNIST_TRAIN_SIZE))
MEMBERS = (3, 5)


def parse_points(text: str) -> list[tuple[int, int]]:
    points = []
    for part in text.split(","):
        epochs, _, size = part.partition("x")
        points.append((int(epochs), MNIST_TRAIN_SIZE if size == "all" else int(size)))
    return points


def run_point(mnist, fusion, epochs: int, size: int, members: int, seed: int) -> dict:
    config = make_config(fusion.type, members, fusion.rule, epochs=epochs, train_size=size, seed=seed)
    data = prepare_data(mnist, size, config.training.validation_fraction, seed)
    t0 = time.perf_counter()
    outcome = train(config, data)
    wall = time.perf_counter() - t0
    results = evaluate(outcome.model, data.x_test, data.y_test, members)
    head = outcome.head or {}
    return {
        "rule": fusion.rule,
        "budget": f"{epochs}x{size}",
        "members": members,
        "fused": results["fused_accuracy"],
        "best": results["best_member_accuracy"],
        "gain_points": 100 * results["gain_over_best_member"],
        "head": "soft vote" if head.get("fallback") else f"kept ({head.get('fitted_steps')} steps)",
        "reason": head.get("reason") or "",
        "head_share": head.get("seconds", 0.0) / max(outcome.train_seconds, 1e-9),
        "wall": wall,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", default=None, help="epochs x images, comma separated: 1x1000,5xall")
    parser.add_argument("--members", default=",".join(map(str, MEMBERS)))
    parser.add_argument("--rules", default=None, help="comma separated; default: every learned rule")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    points = parse_points(args.points) if args.points else list(POINTS)
    rules = set(args.rules.split(",")) if args.rules else None
    learned = [f for f in FUSIONS if f.learned_head and (rules is None or f.rule in rules)]
    mnist = load_mnist()
    print("rule      budget      K  fused    best     fused-best  head            head/fit  wall")
    worst = float("inf")
    for epochs, size in points:
        for members in map(int, args.members.split(",")):
            for fusion in learned:
                r = run_point(mnist, fusion, epochs, size, members, args.seed)
                worst = min(worst, r["gain_points"])
                print(
                    f"{r['rule']:<9} {r['budget']:<11} {members:<2} {r['fused']:.4f}   {r['best']:.4f}   "
                    f"{r['gain_points']:+6.2f}      {r['head']:<15} {r['head_share']:6.1%}  "
                    f"{r['wall']:5.1f} s" + (f"\n          ({r['reason']})" if r["reason"] else ""),
                    flush=True,
                )
    print(f"worst fused minus best member: {worst:+.2f} points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
