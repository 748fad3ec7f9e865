"""The prediction process: Keras lives here, so the app's server never imports it.

`fusion_core.predictor_client.PredictorClient` starts it as

    python -m fusion_core.predictor --fd FD --parent PID

and talks to it over one end of a socket pair (`multiprocessing.connection.Connection` framing:
pickled requests in, pickled replies out, one at a time). Each request is a dict with an `op`
(see `HANDLERS`); each reply is `("ok", value)` or `(kind, one-line message)`. Loaded models are
kept warm by path and modification time, so a canvas stroke costs one `predict_on_batch` call.

The process ends with the app: when its socket closes, when its parent changes (a watch thread),
and on Linux through PR_SET_PDEATHSIG.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import signal
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

MAX_MODELS = 4  # loaded models kept warm; each is a few MB for the networks this app trains
PARENT_POLL_S = 1.0
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_ABSOLUTE_PATH = re.compile(r"(?<![\w.])/(?:[^\s'\"(),:;]+/)*([^\s'\"(),:;/]+)")


class ModelUnreadable(RuntimeError):
    """A model file could not be loaded; the message names the file (not its folder) and why."""


def one_line(message: str) -> str:
    """The first line of an error message, with every absolute path shortened to its file name."""
    first = (str(message).strip().splitlines() or [""])[0]
    return _ABSOLUTE_PATH.sub(lambda m: m.group(1), first)


class ModelCache:
    """Loaded models by (path, modification time), the least recently used dropped beyond `size`."""

    def __init__(self, size: int = MAX_MODELS):
        self.size = size
        self.loads = 0  # how many files were read, so tests can tell a reload from a cache hit
        self._models: OrderedDict[tuple[str, int], Any] = OrderedDict()

    def get(self, path: str):
        name = Path(path).name
        try:
            key = (str(path), os.stat(path).st_mtime_ns)
        except OSError as exc:
            raise ModelUnreadable(f"The model file {name} is missing ({exc.strerror}).") from None
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key]
        for stale in [k for k in self._models if k[0] == key[0]]:  # re-saved: the old copy is useless
            del self._models[stale]
        model = _load(path)
        self.loads += 1
        self._models[key] = model
        while len(self._models) > self.size:
            self._models.popitem(last=False)
        return model


def _load(path: str):
    from fusion_core.models import load_model

    try:
        return load_model(path)
    except Exception as exc:  # noqa: BLE001 - every way a file fails to load gets the same answer
        reason = one_line(f"{type(exc).__name__}: {exc}")
        raise ModelUnreadable(
            f"The model file {Path(path).name} could not be loaded; expected a .keras file saved by "
            f"Fusion Lab ({reason}). Train the run again or upload a good copy."
        ) from None


class Predictor:
    """The state behind the socket: warm models and the last data set the app sent."""

    def __init__(self) -> None:
        self.models = ModelCache()
        self.mnist = None

    def use_data(self, mnist) -> None:
        if mnist is not None:
            self.mnist = mnist

    def need_data(self):
        if self.mnist is None:
            raise RuntimeError("no data set was sent with this request; send it with `mnist=`")
        return self.mnist


def _ping(p: Predictor) -> dict:
    return {"pid": os.getpid(), "loads": p.models.loads}


def _device(p: Predictor) -> dict:
    from fusion_core.device import device_info

    return device_info()


def _load_op(p: Predictor, path: str) -> list[str]:
    """Load (or find warm) and run once on a blank image, so the first real stroke is fast."""
    import numpy as np

    from fusion_core.evaluate import predict_one

    return list(predict_one(p.models.get(path), np.zeros(784, dtype="float32")))


def _predict(p: Predictor, path: str, image) -> dict:
    from fusion_core.evaluate import predict_one

    return predict_one(p.models.get(path), image)


def _probabilities(p: Predictor, path: str, x) -> dict:
    from fusion_core.train import probabilities

    return probabilities(p.models.get(path), x)


def _robustness(p: Predictor, path: str, kind: str, strengths: list[float], **kwargs) -> list[dict]:
    from fusion_core.experiments import robustness_curve

    data = p.need_data()
    model = p.models.get(path)
    return robustness_curve(model, data.x_test, data.y_test, kind, strengths, **kwargs)


def _training_accuracy(p: Predictor, run: dict) -> float | None:
    from fusion_core.experiments import training_accuracy

    return training_accuracy(run, p.need_data())


def _register_upload(p: Predictor, store_path: str, filename: str, data: bytes, score: bool) -> int:
    from fusion_core.store import RunStore
    from fusion_core.uploads import register_uploaded_model

    store = RunStore(store_path)
    try:
        return register_uploaded_model(store, filename, data, mnist=p.mnist if score else None)
    finally:
        store.close()


HANDLERS: dict[str, Callable[..., Any]] = {
    "ping": _ping,
    "device": _device,
    "load": _load_op,
    "predict": _predict,
    "probabilities": _probabilities,
    "robustness": _robustness,
    "training_accuracy": _training_accuracy,
    "register_upload": _register_upload,
}


def answer(p: Predictor, request: dict) -> tuple:
    """One request -> ("ok", value) or (error kind, one-line message); never raises."""
    from fusion_core.uploads import NotAFusionModel

    request = dict(request)
    op = request.pop("op", None)
    p.use_data(request.pop("mnist", None))
    handler = HANDLERS.get(op)
    if handler is None:
        return ("error", f"Unknown request; expected one of {', '.join(HANDLERS)}. Received: op={op!r}")
    try:
        return ("ok", handler(p, **request))
    except NotAFusionModel as exc:
        return ("not_a_fusion_model", one_line(exc))
    except ModelUnreadable as exc:
        return ("error", one_line(exc))
    except Exception as exc:  # noqa: BLE001 - the app gets a reason, the process keeps serving
        return ("error", one_line(f"{type(exc).__name__}: {exc}"))


def serve(conn: Connection) -> None:
    """Answer requests until the other end closes."""
    p = Predictor()
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send(answer(p, request))
        except (BrokenPipeError, OSError):
            return


def die_with_parent(parent_pid: int) -> None:
    """Exit when the app's server exits, however it exits (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):
            pass  # the watch thread below still catches it, within a second
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(0)

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fusion_core.predictor")
    parser.add_argument("--fd", type=int, required=True, help="this end of the socket pair")
    parser.add_argument("--parent", type=int, required=True, help="the app's process id")
    args = parser.parse_args(argv)
    die_with_parent(args.parent)
    conn = Connection(args.fd)
    import keras  # noqa: F401 - warm up now: the first request should not pay for the import

    serve(conn)
    return 0


if __name__ == "__main__":
    sys.exit(main())
