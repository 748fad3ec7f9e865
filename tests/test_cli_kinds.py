"""The command line's --kinds: one kind per member, refused kinds in one line, kinds in --json."""

from __future__ import annotations

import json

import pytest

from fusion_core.cli import main


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "--kinds", "mlp,gru"], "kinds must be one or more of 'mlp', 'cnn', 'lstm'"),
        (["train", "--kinds", "mlp,cnn", "--members", "3"], "one kind, or one per member (3)"),
        (["train", "--kinds", "cnn", "--filters", "128"], "member.filters"),
        (["train", "--kinds", "lstm", "--units", "1024"], "(of an lstm)"),
    ],
)
def test_bad_kinds_exit_2_with_one_line_naming_what_is_allowed(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err and "Traceback" not in err, err


@pytest.mark.mnist
def test_train_kinds_reports_each_members_kind_in_json(capsys):
    argv = ["train", "--kinds", "mlp,cnn,lstm", "--units", "16", "--filters", "4", "--epochs", "1"]
    assert main([*argv, "--train-size", "300", "--batch-size", "64", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "done" and summary["config"] == "parallel x3 (soft), mlp+cnn+lstm"
    assert summary["kinds"] == {"member_0": "mlp", "member_1": "cnn", "member_2": "lstm"}
    assert set(summary["test_accuracy"]) == {"member_0", "member_1", "member_2", "fused"}
    # mlp 784-16-16-10; cnn conv 4 and 8 filters, Dense 16 on 7x7x8; lstm(16) over rows of 28.
    assert summary["params"]["member_1"] == (25 + 1) * 4 + (100 + 1) * 8 + (392 + 1) * 16 + 17 * 10
    assert summary["params"]["member_2"] == 4 * (28 * 16 + 16 * 16 + 16) + 17 * 10
