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


# -- the run store -------------------------------------------------------------------------------
def one_error_line(capsys, needle: str) -> None:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert needle in err and "Traceback" not in err


def test_runs_escapes_control_characters_in_names(capsys):
    import sqlite3

    from fusion_core.store import RunStore

    store = RunStore()
    run_id = store.create_run({"fusion": {"type": "single"}})
    fake = "x\n99999  done        0.9999  fake row\x1b[2K\x1b[1A"
    with sqlite3.connect(store.path) as conn:  # as an older or hand-edited store may hold it
        conn.execute("UPDATE runs SET name = ? WHERE id = ?", (fake, run_id))
    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1 and "\x1b" not in out
    assert "x\\n99999" in out and "\\x1b[2K" in out


def test_runs_skips_and_reports_a_damaged_row(capsys):
    import sqlite3

    from fusion_core.store import RunStore

    store = RunStore()
    good = store.create_run({"fusion": {"type": "single"}}, name="good")
    bad = store.create_run({"fusion": {"type": "single"}}, name="bad")
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE runs SET config_json = '{oops' WHERE id = ?", (bad,))
    assert main(["runs", "--json"]) == 0
    captured = capsys.readouterr()
    assert [r["id"] for r in json.loads(captured.out)] == [good]
    assert f"Run {bad} cannot be read" in captured.err


@pytest.mark.parametrize("command", [["runs"], ["train", "--epochs", "1"]])
def test_an_unusable_store_exits_2_with_one_line(command, fusion_home, capsys):
    fusion_home.mkdir(parents=True)
    (fusion_home / "runs.sqlite").write_bytes(os.urandom(4096))
    assert main(command) == 2
    one_error_line(capsys, "FUSION_LAB_HOME")


@pytest.mark.parametrize("command", [["runs"], ["train", "--epochs", "1"]])
def test_fusion_lab_home_pointing_at_a_file_exits_2_with_one_line(command, fusion_home, capsys):
    fusion_home.parent.mkdir(parents=True, exist_ok=True)
    fusion_home.write_text("a file")
    assert main(command) == 2
    one_error_line(capsys, "it is a file, not a folder")


def test_a_name_over_the_limit_exits_2_before_training(capsys):
    assert main(["train", "--name", "n" * 101]) == 2
    one_error_line(capsys, "at most 100 characters")
