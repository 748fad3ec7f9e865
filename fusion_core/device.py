"""Which backend and device Keras trains on (a GPU when the backend sees one)."""

from __future__ import annotations

import functools
import os


@functools.cache
def device_info() -> dict:
    """{'backend': 'tensorflow', 'device': 'CPU' or 'GPU (name)', 'gpu': bool}."""
    import keras

    backend = keras.backend.backend()
    names: list[str] = []
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            for gpu in tf.config.list_physical_devices("GPU"):
                details = tf.config.experimental.get_device_details(gpu)
                names.append(details.get("device_name", gpu.name))
        elif backend == "jax":
            import jax

            names = [d.device_kind for d in jax.devices() if d.platform == "gpu"]
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # a broken driver means no GPU, not a crash
        names = []
    if names:
        label = f"GPU ({names[0]})" if len(names) == 1 else f"{len(names)} GPUs ({names[0]})"
    else:
        label = f"CPU ({os.cpu_count()} cores)"
    return {"backend": backend, "device": label, "gpu": bool(names)}
