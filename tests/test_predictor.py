"""The prediction process, for real: a child process that loads saved models and answers over a socket.

Its answers are checked against the same functions called in this process on the same model.
One client (one process) is shared by the module's tests to pay for the Keras import once; tests
that end the process leave it to be restarted by the next request, which is itself under test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from fusion_core.config import make_config
from fusion_core.data import prepare_data, synthetic_digits
from fusion_core.evaluate import predict_one
from fusion_core.experiments import robustness_curve, training_accuracy
from fusion_core.models import build_model, compile_model
from fusion_core.predictor import one_line
from fusion_core.predictor_client import PredictorClient, PredictorError
from fusion_core.store import RunStore
from fusion_core.train import probabilities
from fusion_core.uploads import NotAFusionModel

DATA = synthetic_digits(400, seed=5)
CONFIG = make_config("parallel", 2, "soft", hidden_layers=1, hidden_units=16, train_size=300, seed=1)


def trained_model(seed: int = 1):
    """A 2-member soft fusion trained for one epoch on synthetic digits."""
    config = make_config("parallel", 2, "soft", hidden_layers=1, hidden_units=16, train_size=300, seed=seed)
    data = prepare_data(DATA, config.training.train_size, config.training.validation_fraction, seed)
    model = compile_model(build_model(config), config)
    labels = {name: data.y_train for name in model.output_names}
    model.fit(data.x_train, labels, epochs=1, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="module")
def client():
    predictor = PredictorClient()
    yield predictor
    predictor.close()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """(trained model, the .keras file it was saved to)."""
    model = trained_model()
    path = tmp_path_factory.mktemp("models") / "run_1.keras"
    model.save(path)
    return model, str(path)


@pytest.mark.jax
def test_predictions_equal_predict_one_in_this_process(client, model_file):
    model, path = model_file
    assert sorted(client.load(path)) == ["fused", "member_0", "member_1"]
    for image in (DATA.x_test[0] / 255.0, DATA.x_test[7] / 255.0):
        got = client.predict(path, image)
        expected = predict_one(model, image)
        assert set(got) == set(expected)
        for name in expected:
            np.testing.assert_allclose(got[name], expected[name], atol=1e-6)


@pytest.mark.jax
def test_probabilities_robustness_and_training_accuracy_match(client, model_file, fusion_home):
    model, path = model_file
    x = DATA.x_test.reshape(len(DATA.x_test), -1).astype("float32") / 255.0
    got = client.probabilities(path, x)
    for name, expected in probabilities(model, x).items():
        np.testing.assert_allclose(got[name], expected, atol=1e-5)

    strengths = [0.0, 30.0]
    rows = client.robustness_curve(path, DATA, "rotate", strengths)
    expected_rows = robustness_curve(model, DATA.x_test, DATA.y_test, "rotate", strengths)
    keys = [(r["output"], r["strength"]) for r in rows]
    assert keys == [(r["output"], r["strength"]) for r in expected_rows]
    np.testing.assert_allclose([r["accuracy"] for r in rows], [r["accuracy"] for r in expected_rows])

    run = {"status": "done", "model_path": path, "config": CONFIG.to_dict()}
    assert client.training_accuracy(run, DATA) == pytest.approx(training_accuracy(run, DATA))


def test_a_resaved_model_is_reloaded(client, tmp_path):
    path = tmp_path / "run_2.keras"
    first, second = trained_model(seed=1), trained_model(seed=2)
    first.save(path)
    image = DATA.x_test[3] / 255.0
    loads = client.ping()["loads"]
    got = client.predict(path, image)["fused"]
    np.testing.assert_allclose(got, predict_one(first, image)["fused"], atol=1e-6)
    client.predict(path, image)
    assert client.ping()["loads"] == loads + 1  # the second stroke used the warm model

    second.save(path)
    stamp = os.stat(path).st_mtime + 5  # a new modification time even on a coarse clock
    os.utime(path, (stamp, stamp))
    got = client.predict(path, image)["fused"]
    np.testing.assert_allclose(got, predict_one(second, image)["fused"], atol=1e-6)
    assert not np.allclose(got, predict_one(first, image)["fused"], atol=1e-6)
    assert client.ping()["loads"] == loads + 2


def test_a_killed_process_is_restarted_by_the_next_request(client, model_file):
    model, path = model_file
    pid = client.ping()["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and _state(pid) != "Z" and time.monotonic() < deadline:
        time.sleep(0.05)
    image = DATA.x_test[1] / 255.0
    got = client.predict(path, image)
    np.testing.assert_allclose(got["fused"], predict_one(model, image)["fused"], atol=1e-6)
    assert client.pid is not None and client.pid != pid


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


@pytest.mark.parametrize("content", [b"this is not a model", b"PK\x03\x04 a broken zip"])
def test_a_corrupt_model_file_is_a_one_line_message(client, tmp_path, content):
    path = tmp_path / "deep" / "folder" / "run_9.keras"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    pid = client.ping()["pid"]
    with pytest.raises(PredictorError) as info:
        client.predict(path, np.zeros((28, 28), "float32"))
    message = str(info.value)
    assert "run_9.keras" in message and "could not be loaded" in message
    assert "\n" not in message and "Traceback" not in message
    assert str(tmp_path) not in message and "/deep/folder" not in message
    assert client.ping()["pid"] == pid  # the process keeps serving


def test_a_missing_model_file_is_a_message(client, tmp_path):
    with pytest.raises(PredictorError, match=r"The model file gone\.keras is missing"):
        client.load(tmp_path / "gone.keras")


def test_uploading_a_file_that_is_not_a_model_is_refused_with_the_uploads_message(client, fusion_home):
    store = RunStore()
    with pytest.raises(NotAFusionModel) as info:
        client.register_upload(store, "notes.keras", b"hello, not a model")
    assert "does not load as a Keras model" in str(info.value)
    assert store.list_runs() == []  # nothing was kept
    store.close()


def test_uploading_a_model_adds_a_scored_run(client, model_file, fusion_home):
    _, path = model_file
    store = RunStore()
    run_id = client.register_upload(store, "mine.keras", Path(path).read_bytes(), mnist=DATA)
    run = store.get_run(run_id)
    assert run["kind"] == "upload" and run["status"] == "done" and run["name"] == "mine"
    assert 0.0 <= run["results"]["fused_accuracy"] <= 1.0
    store.close()


def test_a_request_past_its_time_limit_is_stopped_with_a_message(model_file):
    _, path = model_file
    slow = PredictorClient(timeouts={"load": 0.05})
    try:
        with pytest.raises(PredictorError, match=r"took longer than 0\.05 s to answer a 'load' request"):
            slow.load(path)  # a fresh process is still importing Keras
        assert slow.pid is None
        assert sorted(slow.load(path, timeout=300)) == ["fused", "member_0", "member_1"]
    finally:
        slow.close()


def test_the_process_ends_when_its_parent_is_killed(tmp_path):
    """The app's server dying by SIGKILL leaves no prediction process behind."""
    script = textwrap.dedent(
        """
        import sys, time
        from fusion_core.predictor_client import PredictorClient
        client = PredictorClient()
        print(client.ping()["pid"], flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        child = int(parent.stdout.readline())
        assert _state(child) not in ("gone", "Z")
        parent.kill()
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _state(child) not in ("gone", "Z") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _state(child) in ("gone", "Z"), "the prediction process outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()


def test_one_line_keeps_the_first_line_and_shortens_paths():
    text = "OSError: cannot open /srv/fusion/models/run_3.keras (see /tmp/x/y.log)\n  File ...\n"
    assert one_line(text) == "OSError: cannot open run_3.keras (see y.log)"
