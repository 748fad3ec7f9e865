"""The command line: bad input gives status 2 and one line; a real run prints JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fusion_core.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "--epochs", "zero"], "--epochs"),
        (["train", "--fusion", "pyramid"], "--fusion"),
        (["train", "--members", "11", "--fusion", "parallel"], "fusion.num_members"),
        (["train", "--fusion", "serial", "--rule", "hard"], "fusion.rule"),
        (["train", "--units", "4"], "member.hidden_units"),
        (["train", "--train-size", "50"], "training.train_size"),
        (["train", "--no-such-flag"], "--no-such-flag"),
        (["explode"], "explode"),
        ([], "command"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert needle in err
    assert "Traceback" not in err


def test_bad_input_from_a_real_process_has_no_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "fusion_core", "train", "--lr", "-1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "training.learning_rate" in proc.stderr and "Traceback" not in proc.stderr


def test_runs_on_an_empty_store_says_how_to_start(capsys):
    assert main(["runs"]) == 0
    assert "No runs stored yet" in capsys.readouterr().out


@pytest.mark.mnist
def test_data_check_verifies_the_real_mnist(capsys):
    assert main(["data", "--check"]) == 0
    out = capsys.readouterr().out
    assert "60,000 training and 10,000 test images" in out


@pytest.mark.mnist
def test_train_json_on_real_mnist_stores_the_run(capsys):
    code = main(
        [
            "train",
            "--fusion",
            "parallel",
            "--members",
            "2",
            "--units",
            "64",
            "--epochs",
            "2",
            "--train-size",
            "5000",
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "done"
    # A broken model stays near 10%; two small members on 5,000 real digits reach about 93%.
    assert summary["test_accuracy"]["fused"] > 0.85
    assert set(summary["test_accuracy"]) == {"member_0", "member_1", "fused"}
    assert summary["params_total"] == 2 * (784 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10)
    assert main(["runs", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in runs] == [summary["run_id"]]
