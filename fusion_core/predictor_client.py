"""Talk to the prediction process (fusion_core.predictor) without importing Keras here.

The app's server holds one `PredictorClient` (`ui.state.get_predictor`). The process starts on
the first request and stays warm; a process that died is started again on the next request; an
error inside it comes back as `PredictorError` with a one-line reason (an upload that is not a
Fusion Lab model as `fusion_core.uploads.NotAFusionModel`), and a request that runs past its time
limit ends the process and says so.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from fusion_core.uploads import NotAFusionModel

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# Seconds each request may take. Loading covers the process start and the Keras import (several
# seconds on a busy two-core machine); a stroke on a warm model takes milliseconds.
TIMEOUTS_S = {
    "ping": 120.0,
    "device": 120.0,
    "load": 180.0,
    "predict": 60.0,
    "probabilities": 300.0,
    "robustness": 600.0,
    "training_accuracy": 600.0,
    "register_upload": 600.0,
}

# PR_SET_PDEATHSIG fires when the *thread* that started the child ends, and Streamlit runs each
# script run on a thread of its own. So every process is started from this one long-lived thread.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="predictor-start")


class PredictorError(RuntimeError):
    """The prediction process could not answer; the message says why in one line."""


class PredictorClient:
    """One prediction process, started on first use; requests are serialised by a lock."""

    def __init__(self, *, python: str = sys.executable, timeouts: dict[str, float] | None = None):
        self.python = python
        self.timeouts = {**TIMEOUTS_S, **(timeouts or {})}
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._sent_data: Any = None  # the MnistData this process already holds
        # Ends the process when the client is dropped (a cleared cache) or the interpreter exits.
        weakref.finalize(self, _stop, self.__dict__)

    # -- the requests ----------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The running process's id (None before the first request or after it ended)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def ping(self) -> dict:
        """{'pid': ..., 'loads': how many model files it has read}; starts the process if needed."""
        return self._call("ping")

    def device_info(self) -> dict:
        """fusion_core.device.device_info(), measured where Keras runs."""
        return self._call("device")

    def load(self, model_path: str | os.PathLike, *, timeout: float | None = None) -> list[str]:
        """Load a saved model (or find it warm) and run it once; returns its output names."""
        return self._call("load", timeout, path=str(model_path))

    def predict(self, model_path: str | os.PathLike, image: np.ndarray) -> dict[str, np.ndarray]:
        """fusion_core.evaluate.predict_one: every output's probabilities for one 28x28 image."""
        return self._call("predict", path=str(model_path), image=np.asarray(image, dtype="float32"))

    def probabilities(self, model_path: str | os.PathLike, x: np.ndarray) -> dict[str, np.ndarray]:
        """fusion_core.train.probabilities: every output's probabilities for a batch of images."""
        return self._call("probabilities", path=str(model_path), x=np.asarray(x, dtype="float32"))

    def robustness_curve(
        self, model_path: str | os.PathLike, mnist, kind: str, strengths: Sequence[float], **kwargs: Any
    ) -> list[dict]:
        """fusion_core.experiments.robustness_curve of a saved model on `mnist`'s test images."""
        return self._call(
            "robustness", dataset=mnist, path=str(model_path), kind=kind, strengths=list(strengths), **kwargs
        )

    def training_accuracy(self, run: dict, mnist) -> float | None:
        """fusion_core.experiments.training_accuracy of a stored run."""
        return self._call("training_accuracy", dataset=mnist, run=run)

    def register_upload(self, store, filename: str, data: bytes, *, mnist=None) -> int:
        """fusion_core.uploads.register_uploaded_model, run in the process; returns the new run id.

        Raises NotAFusionModel with the uploads module's own message when the file is not ours.
        """
        return self._call(
            "register_upload",
            dataset=mnist,
            store_path=str(store.path),
            filename=filename,
            data=bytes(data),
            score=mnist is not None,
        )

    def close(self) -> None:
        """End the process now (a later request starts a new one)."""
        with self._lock:
            _stop(self.__dict__)

    # -- the plumbing ----------------------------------------------------------------------------

    def _call(self, op: str, timeout: float | None = None, *, dataset: Any = None, **args: Any) -> Any:
        limit = self.timeouts[op] if timeout is None else float(timeout)
        if not self._lock.acquire(timeout=max(limit, 1.0)):
            raise PredictorError(
                f"The prediction process stayed busy for {limit:g} s with other requests; try again shortly."
            )
        try:
            return self._request(op, limit, dataset, args)
        finally:
            self._lock.release()

    def _request(self, op: str, limit: float, dataset: Any, args: dict) -> Any:
        for attempt in (1, 2):  # a process found dead is started once more, then the error stands
            self._ensure_running()
            request = {"op": op, **args}
            if dataset is not None and dataset is not self._sent_data:
                request["mnist"] = dataset  # sent once per process; it keeps the last one
            try:
                self._conn.send(request)
                if not self._conn.poll(limit):
                    _stop(self.__dict__)
                    raise PredictorError(
                        f"The prediction process took longer than {limit:g} s to answer a {op!r} request "
                        "and was stopped; the next request starts it again."
                    )
                reply = self._conn.recv()
            except (EOFError, OSError) as exc:
                code = _stop(self.__dict__)
                if attempt == 2:
                    raise PredictorError(
                        f"The prediction process stopped while answering a {op!r} request (exit code "
                        f"{code}); the next request starts it again."
                    ) from exc
                continue
            if dataset is not None:
                self._sent_data = dataset
            return _unwrap(reply)
        raise AssertionError("unreachable")

    def _ensure_running(self) -> None:
        if self._proc is not None and self._proc.poll() is None and self._conn is not None:
            return
        _stop(self.__dict__)
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        # On a GPU, take memory as needed: by default JAX claims 75% of it and TensorFlow all of it
        # at start, which would leave nothing for the training workers beside this process.
        env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        env.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
        cmd = [self.python, "-m", "fusion_core.predictor", "--fd", str(theirs.fileno()),
               "--parent", str(os.getpid())]  # fmt: skip
        try:
            self._proc = _SPAWNER.submit(
                subprocess.Popen, cmd, pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL
            ).result()
        except OSError as exc:
            ours.close()
            raise PredictorError(f"The prediction process could not start ({exc}).") from exc
        finally:
            theirs.close()
        self._conn = Connection(ours.detach())
        self._sent_data = None


def _unwrap(reply: tuple) -> Any:
    kind, value = reply
    if kind == "ok":
        return value
    if kind == "not_a_fusion_model":
        raise NotAFusionModel(value)
    raise PredictorError(value)


def _stop(state: dict) -> int | None:
    """Close the socket and end the process; returns its exit code. Takes the client's __dict__,
    so the finalizer does not keep the client alive."""
    conn, proc = state.get("_conn"), state.get("_proc")
    state["_conn"], state["_proc"], state["_sent_data"] = None, None, None
    if conn is not None:
        conn.close()
    if proc is None:
        return None
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return proc.returncode
