"""Shared fixtures: an isolated data home for every test, and small synthetic data."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["FUSION_LAB_SPAWN_WORKERS"] = "0"  # AppTest never starts worker processes; app_home runs one


def pytest_configure(config):
    """AppTest reads .streamlit/config.toml, whose showErrorDetails hides errors from visitors; a
    failing test should show them in full."""
    from streamlit import config as st_config

    st_config.get_config_options()
    st_config.set_option("client.showErrorDetails", "full")


@pytest.fixture(autouse=True)
def fusion_home(tmp_path, monkeypatch):
    """Every test writes its store and models under its own folder, never into ~/.fusion_lab."""
    home = tmp_path / "fusion_home"
    monkeypatch.setenv("FUSION_LAB_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def synthetic():
    from fusion_core.data import synthetic_digits

    return synthetic_digits(1200, seed=3)


@pytest.fixture(scope="session")
def prepared(synthetic):
    """Synthetic data split like a real run: about 1,000 training and 120 validation images."""
    from fusion_core.data import prepare_data

    return prepare_data(synthetic, train_size=1000, validation_fraction=0.1, seed=0)


@pytest.fixture
def app_home(tmp_path, monkeypatch, request):
    """For AppTest: a fresh FUSION_LAB_HOME, fresh Streamlit caches, synthetic digits for MNIST, and
    a worker that trains the jobs the pages submit.

    The worker is the real one (fusion_core.worker.Worker: claims, heartbeat, stop flag), on a
    thread of the test process instead of a process of its own, so that it trains on the same
    synthetic digits as the page. A test module may set SYNTHETIC (an MnistData) to choose the
    data; the default is 200 images.
    """
    import threading

    import streamlit as st

    import fusion_core.data
    from fusion_core.store import RunStore
    from fusion_core.worker import Worker

    data = getattr(request.module, "SYNTHETIC", None) or fusion_core.data.synthetic_digits(200)
    monkeypatch.setenv("FUSION_LAB_HOME", str(tmp_path))
    monkeypatch.setattr(fusion_core.data, "load_mnist", lambda *a, **k: data)
    st.cache_resource.clear()
    store = RunStore(tmp_path / "runs.sqlite")
    worker = Worker(store, poll_seconds=0.1)
    serving = threading.Thread(target=worker.serve, name="test-worker", daemon=True)
    serving.start()
    yield tmp_path
    worker.close()  # stops a job still training after its current batch
    # Wait it out, however busy the machine: a job still training here would build its Keras model
    # beside the next test's job, in the same process, which Keras does not support.
    serving.join(300)
    assert not serving.is_alive(), "the test worker did not stop within 300 s"
    store.close()
    st.cache_resource.clear()
