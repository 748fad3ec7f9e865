"""Command line: `python -m fusion_core train|runs|data|sweep|worker ...`.

Bad flags or values, and a run store or disk that cannot be used, exit with status 2 and one line
that says what was wrong; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from collections.abc import Sequence

from fusion_core.config import (
    ACTIVATIONS,
    FUSION_RULES,
    FUSION_TYPES,
    MEMBER_KINDS,
    OPTIMIZERS,
    ConfigError,
    make_config,
    parse_kinds,
)
from fusion_core.executors import ExecutorError, executor_name
from fusion_core.ray_executor import RayUnavailable
from fusion_core.store import StoreError

EXIT_USAGE = 2


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        raise UsageError(f"{self.prog}: {message} (see --help)")


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected whole numbers separated by commas, got {text!r}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m fusion_core", description="Fusion Lab's engine on the command line.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", help="train one run on MNIST and store it")
    all_rules = sorted({r for rules in FUSION_RULES.values() for r in rules})
    several = "default: single, or parallel for several members"
    train.add_argument("--fusion", choices=FUSION_TYPES, default=None, help=several)
    train.add_argument("--members", type=int, default=None, help="number of members (1 to 10)")
    train.add_argument("--rule", choices=all_rules, default=None, help="fusion rule (depends on --fusion)")
    train.add_argument(
        "--kinds",
        default=None,
        help=f"member kinds, one per member or one for all: {','.join(MEMBER_KINDS)} (default: mlp)",
    )
    train.add_argument("--filters", type=int, default=None, help="a cnn's first convolution filters (16)")
    # Layer settings left unset keep each kind's own default shape (mlp: 2x512 relu).
    train.add_argument("--layers", type=int, default=None, help="hidden layers per member")
    train.add_argument("--units", type=int, default=None, help="units per hidden layer")
    train.add_argument("--activation", choices=ACTIVATIONS, default=None)
    train.add_argument("--dropout", type=float, default=0.0)
    train.add_argument("--l2", type=float, default=0.0)
    train.add_argument("--bagging", action="store_true", help="each member trains on a bootstrap resample")
    train.add_argument("--epochs", type=int, default=5)
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--train-size", type=int, default=60_000)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--name", default=None)
    train.add_argument("--json", action="store_true", help="print one JSON object instead of text")

    runs = sub.add_parser("runs", help="list stored runs")
    runs.add_argument("--json", action="store_true")

    data = sub.add_parser("data", help="locate and verify the MNIST data set")
    data.add_argument("--check", action="store_true", help="verify checksums and label counts")

    sweep = sub.add_parser("sweep", help="test accuracy against training-set size")
    sweep.add_argument("--sizes", type=_int_list, default=[500, 2000, 10000])
    sweep.add_argument("--configs", default="single,parallel", help="comma-separated: single,parallel,...")
    sweep.add_argument("--seeds", type=int, default=1)
    sweep.add_argument("--epochs", type=int, default=5)
    sweep.add_argument("--json", action="store_true")

    from fusion_core.worker import add_arguments as add_worker_arguments

    add_worker_arguments(sub.add_parser("worker", help="claim queued jobs from the run store and train them"))
    return parser


def _say(text: str, as_json: bool) -> None:
    if not as_json:
        print(text, flush=True)


def cmd_train(args: argparse.Namespace) -> int:
    kinds = parse_kinds(args.kinds) if args.kinds is not None else None
    fusion = args.fusion
    if fusion is None:  # several members asked for without a fusion: the plain vote
        several = (args.members or 1) > 1 or len(kinds or ()) > 1
        fusion = "parallel" if several else "single"
    shape = {"hidden_layers": args.layers, "hidden_units": args.units, "activation": args.activation}
    shape["filters"] = args.filters
    config = make_config(
        fusion,
        num_members=args.members,
        rule=args.rule,
        kinds=kinds,
        **{key: value for key, value in shape.items() if value is not None},
        dropout_rate=args.dropout,
        l2=args.l2,
        bootstrap=args.bagging,
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        learning_rate=args.lr,
        train_size=args.train_size,
        seed=args.seed,
    )
    from fusion_core.data import DataError, load_mnist
    from fusion_core.jobs import run_job
    from fusion_core.store import RunStore, clean_name

    name = clean_name(args.name) if args.name is not None else None  # before minutes of loading
    store = RunStore()
    on_ray = executor_name() == "ray"  # the data is then loaded on the Ray node that trains
    try:
        mnist = None if on_ray else load_mnist()
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    run_id = store.create_run(config.to_dict(), name=name, kind="cli")
    where = "MNIST on Ray" if on_ray else mnist.source
    _say(f"run {run_id}: {config.describe()}, {config.training.epochs} epochs on {where}", args.json)

    def progress(event: dict) -> None:
        if event["split"] != "val":
            return
        fused = event["series"]["fused"]
        _say(
            f"  epoch {event['epoch']:5.2f}  step {event['step']:>6}/{event['total_steps']}  "
            f"val acc {fused['accuracy']:.4f}  val loss {fused['loss']:.4f}  {event['elapsed']:6.1f}s",
            args.json,
        )

    if on_ray:
        from fusion_core.ray_executor import run_on_ray

        status = run_on_ray(config, store, run_id, on_event=progress)
    else:
        status = run_job(config, store, run_id, data_loader=lambda: mnist, on_event=progress)
    run = store.get_run(run_id)
    if status == "failed":
        print(f"error: run {run_id} failed: {run['error']}", file=sys.stderr)
        return 1
    results, timings = run["results"], run["timings"]
    summary = {
        "run_id": run_id,
        "status": status,
        "config": config.describe(),
        "kinds": {f"member_{k}": kind for k, kind in enumerate(config.kinds())},
        "test_accuracy": {k: round(v["test_accuracy"], 4) for k, v in results["series"].items()},
        "params": {k: v["params"] for k, v in results["series"].items()},
        "params_total": results["params_total"],
        "seconds_per_epoch": timings["seconds_per_epoch"],
        "latency_ms": round(results["latency_ms"], 3),
        "backend": run["backend"],
        "device": run["device"],
    }
    if args.json:
        print(json.dumps(summary))
    else:
        for name, acc in summary["test_accuracy"].items():
            kind = summary["kinds"].get(name, "")
            print(f"  {name:<9} {kind:<4} test accuracy {acc:.4f}  ({summary['params'][name]:,} parameters)")
        print(f"  {timings['seconds_per_epoch']:.2f} s per epoch on {run['device']} ({run['backend']})")
        print(f"  stored as run {run_id} ({status})")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from fusion_core.store import RunStore, printable_name

    with RunStore() as store:
        runs = store.list_runs()
    for bad in runs.skipped:  # reported, never a reason to hide the other runs
        print(f"warning: {bad}", file=sys.stderr)
    rows = []
    for run in runs:
        acc = (run.get("results") or {}).get("fused_accuracy")
        rows.append(
            {
                "id": run["id"],
                "name": run["name"],
                "status": run["status"],
                "kind": run["kind"],
                "config": _describe(run["config"]),
                "test_accuracy": acc,
            }
        )
    if args.json:
        print(json.dumps(rows))
        return 0
    if not rows:
        print("No runs stored yet. Train one with: python -m fusion_core train --epochs 1")
        return 0
    for r in rows:
        acc = f"{r['test_accuracy']:.4f}" if r["test_accuracy"] is not None else "   -  "
        # Names are user text: escaped, so a newline or an escape sequence cannot fake a row.
        print(f"{r['id']:>5}  {r['status']:<11} {acc}  {printable_name(r['name']):<20} {r['config']}")
    return 0


def _describe(config: dict) -> str:
    from fusion_core.config import RunConfig

    try:
        return RunConfig.from_dict(config).describe()
    except (ConfigError, TypeError):
        return "(unreadable configuration)"


def cmd_data(args: argparse.Namespace) -> int:
    from fusion_core.data import DataError, load_mnist

    try:
        mnist = load_mnist()
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"MNIST: {len(mnist.y_train):,} training and {len(mnist.y_test):,} test images from {mnist.source}")
    if args.check:
        print("verified: shapes, value range and the per-class label counts of the genuine MNIST")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from fusion_core.experiments import run_size_sweep_cli

    return run_size_sweep_cli(args)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, StoreError) else f"{text} ({type(exc).__name__})"


def cmd_worker(args: argparse.Namespace) -> int:
    from fusion_core.worker import main as worker_main

    return worker_main(args)


COMMANDS = {"train": cmd_train, "runs": cmd_runs, "data": cmd_data, "sweep": cmd_sweep, "worker": cmd_worker}


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        args = build_parser().parse_args(argv)
        if args.command in ("train", "sweep"):
            executor_name()  # a bad FUSION_LAB_EXECUTOR stops here, before anything runs
        return COMMANDS[args.command](args)
    except RayUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:
        print(f"python -m fusion_core: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ExecutorError as exc:
        print(f"python -m fusion_core: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (StoreError, sqlite3.Error, OSError) as exc:  # the store, its folder or the disk
        print(f"python -m fusion_core: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
