"""Models uploaded as .keras files: check that Fusion Lab made them and add them to the run store.

An upload is checked completely before anything is stored: first the architecture its
config.json declares (read from the zip, nothing built), against the app's own limits; then the
loaded model's input, outputs and layers, against the network its layers describe. Only a model
that passes every check becomes a run, with its file at the run's own path.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from fusion_core import registry
from fusion_core.config import (
    MAX_CNN_DENSE_LAYERS,
    MAX_FILTERS,
    MAX_LAYERS,
    MAX_LSTM_LAYERS,
    MAX_LSTM_UNITS,
    MAX_MEMBERS,
    MAX_UNITS,
    ConfigError,
    FusionConfig,
    MemberConfig,
    RunConfig,
    TrainConfig,
)
from fusion_core.limits import ResourceLimitError, check_parameter_count
from fusion_core.registry import FUSED, member_index, member_name, parse_model_name

INPUT_SHAPE = [None, 784]  # what every Fusion Lab model takes: a batch of flattened 28x28 images
NUM_CLASSES = 10
# Per member: its hidden Dense and Dropout layers, its output and up to four fusion helpers.
MAX_DECLARED_LAYERS = MAX_MEMBERS * (2 * MAX_LAYERS + 5) + 10
MAX_CONFIG_BYTES = 2 * 1024 * 1024  # the largest Fusion Lab config.json is about 200 KB
# The layers Fusion Lab builds its networks from (fusion_core.models and fusion_core.layers; the
# CNN and LSTM members' in fusion_core.registry).
LAYER_CLASSES = ("InputLayer", "Dense", "Dropout", "Concatenate", "Average", "Identity", "StopGradient",
                 "HardVote", "WeightedAverage", "HeadOrVote", "Reshape", "Cropping1D", "Conv2D",
                 "MaxPooling2D", "Flatten", "LSTM")  # fmt: skip


def _max_parameters() -> int:
    """The most parameters a valid config can have: every member at the limits, the widest fusion."""
    widest_input = 784 + NUM_CLASSES  # a cascade stage sees the image and the previous answer
    largest = (
        MemberConfig(hidden_layers=MAX_LAYERS, hidden_units=MAX_UNITS),
        MemberConfig.of_kind(
            "cnn", filters=MAX_FILTERS, hidden_layers=MAX_CNN_DENSE_LAYERS, hidden_units=MAX_UNITS
        ),
        MemberConfig.of_kind("lstm", hidden_layers=MAX_LSTM_LAYERS, hidden_units=MAX_LSTM_UNITS),
    )
    member = max(registry.member_kind(m).count_params(m, widest_input) for m in largest)
    hybrid = (784 + NUM_CLASSES * MAX_MEMBERS) * MAX_UNITS + MAX_UNITS * (NUM_CLASSES + 1) + NUM_CLASSES
    feature = MAX_MEMBERS * MAX_UNITS * NUM_CLASSES + NUM_CLASSES
    return MAX_MEMBERS * member + max(hybrid, feature)


MAX_PARAMETERS = _max_parameters()  # about 312 million
MAX_WEIGHT_BYTES = 4 * MAX_PARAMETERS + 1024 * 1024  # float32 weights and the HDF5 file's own overhead


class NotAFusionModel(ValueError):
    """An uploaded file is not a model that Fusion Lab saved; the message says why."""


class UploadFailed(RuntimeError):
    """A valid upload could not be stored (a full disk, a store error); nothing was kept."""


def infer_config(model) -> RunConfig:
    """The RunConfig a Fusion Lab model was most likely built from, read from its layers.

    Fusion Lab names its models '<type>_<rule>_x<members>' and its layers 'member_<k>_dense_<i>';
    training settings are not saved in the model, so they keep their defaults here (a stored
    upload leaves them out: see `register_uploaded_model`).
    """
    match = parse_model_name(model.name or "")
    num_members = sum(1 for name in model.output_names if member_index(name) is not None)
    fusion = FusionConfig(type="parallel" if num_members > 1 else "single", num_members=num_members)
    fusion.rule = "soft" if num_members > 1 else "none"
    if match:
        fusion_type, rule, count = match
        fusion = FusionConfig(type=fusion_type, num_members=count, rule=rule)
    try:
        fusion.meta_units = int(model.get_layer("meta_dense").units)
    except ValueError:
        pass
    members = [_member_config(model, k) for k in range(num_members)]
    same = all(m == members[0] for m in members)
    config = RunConfig(
        member=members[0] if members else MemberConfig(),
        members=None if same else members,
        fusion=fusion,
        training=TrainConfig(),
    )
    return config.validate()


def _member_layers(model, index: int, role: str) -> list:
    """Member `index`'s layers named member_<index>_<role>_<i>, in order of i."""
    found = [layer for layer in model.layers if re.fullmatch(rf"member_{index}_{role}_\d+", layer.name)]
    return sorted(found, key=lambda layer: int(layer.name.rsplit("_", 1)[1]))


def _activation_name(layer) -> str:
    act = layer.get_config()["activation"]
    return act if isinstance(act, str) else act.get("config", {}).get("name", "relu")


def _member_config(model, index: int) -> MemberConfig:
    """One member's config from its layers: convolutions make it a cnn, LSTMs an lstm, else an mlp."""
    convs = _member_layers(model, index, "conv")
    lstms = _member_layers(model, index, "lstm")
    dense = _member_layers(model, index, "dense")
    hidden = lstms or dense  # the layers that hidden_layers / hidden_units describe
    drops = _member_layers(model, index, "drop") + _member_layers(model, index, "conv_drop")
    units = [int(layer.units) for layer in hidden]
    acts = [_activation_name(layer) for layer in hidden]
    first = (convs or hidden or [None])[0]
    reg = first.get_config().get("kernel_regularizer") if first is not None else None
    l2 = float((reg or {}).get("config", {}).get("l2", 0.0)) if isinstance(reg, dict) else 0.0
    kind = "cnn" if convs else "lstm" if lstms else "mlp"
    extra = {"kind": kind, "filters": int(convs[0].filters)} if convs else {"kind": kind}
    return MemberConfig(
        hidden_layers=max(1, len(hidden)),
        hidden_units=units[0] if len(set(units)) == 1 else units,
        activation=acts[0] if len(set(acts)) == 1 else acts,
        dropout_rate=float(drops[0].rate) if drops else 0.0,
        l2=round(l2, 8),
        **extra,
    )


def check_declared_architecture(data: bytes) -> dict[str, Any]:
    """Read the architecture a .keras file declares, without building it, and refuse what is too big.

    Returns the parsed config.json. Raises NotAFusionModel with the numbers and the limit when
    the file is not a .keras zip, declares another input than 784 pixels, more layers, units,
    members or weight bytes than Fusion Lab itself can make.
    """
    import io

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = {info.filename: info for info in archive.infolist()}
    except (zipfile.BadZipFile, ValueError, OSError):
        raise NotAFusionModel(
            "it does not load as a Keras model: it is not a .keras file (a zip archive)"
        ) from None
    info = infos.get("config.json")
    if info is None:
        raise NotAFusionModel("it does not load as a Keras model: its archive has no config.json")
    if info.file_size > MAX_CONFIG_BYTES:
        raise NotAFusionModel(
            f"its config.json is {info.file_size:,} bytes; Fusion Lab models need at most "
            f"{MAX_CONFIG_BYTES:,}"
        )
    weights = sum(i.file_size for name, i in infos.items() if name != "config.json")
    if weights > MAX_WEIGHT_BYTES:
        raise NotAFusionModel(
            f"it declares {weights:,} bytes of weights; the largest Fusion Lab model has about "
            f"{MAX_WEIGHT_BYTES:,} (limit)"
        )
    try:
        config = json.loads(archive.read(info))
    except (ValueError, zipfile.BadZipFile, OSError, RuntimeError) as exc:
        raise NotAFusionModel(f"its config.json cannot be read ({type(exc).__name__})") from None
    layers = list(_declared_layers(config))
    if len(layers) > MAX_DECLARED_LAYERS:
        raise NotAFusionModel(
            f"it declares {len(layers)} layers; Fusion Lab models have at most {MAX_DECLARED_LAYERS} "
            f"({MAX_MEMBERS} members of {MAX_LAYERS} hidden layers)"
        )
    for layer in layers:
        _check_declared_layer(layer)
    params = _declared_parameters(layers)
    if params > MAX_PARAMETERS:
        raise NotAFusionModel(
            f"it declares {params:,} parameters; the largest Fusion Lab model has {MAX_PARAMETERS:,}"
        )
    try:  # the same limit a run trained here has (fusion_core.limits), for every member kind
        check_parameter_count(params, what="The uploaded model")
    except ResourceLimitError as exc:
        raise NotAFusionModel(str(exc)) from None
    outputs = [n for n in _declared_output_names(config) if member_index(n) is not None]
    if len(outputs) > MAX_MEMBERS:
        raise NotAFusionModel(f"it declares {len(outputs)} members; Fusion Lab allows at most {MAX_MEMBERS}")
    return config


def _declared_layers(node: Any):
    """Every layer of a (possibly nested) model config: the entries of each 'layers' list."""
    config = node.get("config") if isinstance(node, dict) else None
    layers = config.get("layers") if isinstance(config, dict) else None
    if not isinstance(layers, list):
        return
    for layer in layers:
        if not isinstance(layer, dict) or not isinstance(layer.get("config"), dict):
            raise NotAFusionModel("its config.json lists a layer that is not a Keras layer config")
        if isinstance(layer["config"].get("layers"), list):  # a nested model
            yield from _declared_layers(layer)
        else:
            yield layer


def _check_declared_layer(layer: dict[str, Any]) -> None:
    cfg, kind = layer["config"], str(layer.get("class_name"))
    name = cfg.get("name", kind)
    if kind not in LAYER_CLASSES:
        raise NotAFusionModel(
            f"its layer {name!r} is a {kind}; Fusion Lab networks are made of {', '.join(LAYER_CLASSES)}"
        )
    for key in ("units", "filters"):
        value = cfg.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value > MAX_UNITS:
            raise NotAFusionModel(
                f"its layer {name!r} declares {key}={value!r}; Fusion Lab layers have at most {MAX_UNITS:,}"
            )
    if kind == "InputLayer":
        shape = cfg.get("batch_shape", cfg.get("batch_input_shape"))
        if shape != INPUT_SHAPE:
            raise NotAFusionModel(
                f"expected one input of 784 pixels, shape (None, 784). Received: input shape {_shape(shape)}"
            )


def _declared_parameters(layers: list[dict[str, Any]]) -> int:
    """Parameters of the declared graph, from its wiring (shapes propagate from the 784-pixel input).

    Declared tensor shapes are not trusted: Keras rebuilds the graph from the wiring, so that is
    what decides the size of every weight matrix it allocates.
    """
    shapes: dict[str, tuple[int, ...]] = {}
    total = 0
    for layer in layers:
        cfg, kind = layer["config"], str(layer.get("class_name"))
        name = str(layer.get("name", cfg.get("name")))
        sources = list(_inbound_layers(layer.get("inbound_nodes")))
        unknown = [s for s in sources if s not in shapes]
        if unknown:
            raise NotAFusionModel(f"its layer {name!r} takes its input from an unknown layer {unknown[0]!r}")
        try:
            shapes[name], params = _declared_layer(kind, cfg, [shapes[s] for s in sources])
            if any(d < 1 for d in shapes[name]) and kind != "InputLayer" and sources:
                raise ValueError("an empty tensor")
        except (TypeError, ValueError, IndexError, KeyError, ZeroDivisionError):
            raise NotAFusionModel(f"its layer {name!r} declares a shape Fusion Lab never builds") from None
        total += params
    return total


def _declared_layer(
    kind: str, cfg: dict[str, Any], inputs: list[tuple[int, ...]]
) -> tuple[tuple[int, ...], int]:
    """(output shape without the batch axis, parameters) of one declared layer on these inputs."""
    first = inputs[0] if inputs else (0,)
    if kind == "InputLayer":
        return (784,), 0
    if kind == "Dense":
        units = int(cfg.get("units") or 0)
        return (*first[:-1], units), sum(s[-1] for s in inputs) * units + units
    if kind == "Concatenate":
        return (*first[:-1], sum(s[-1] for s in inputs)), 0
    if kind == "Reshape":
        target = tuple(int(d) for d in cfg["target_shape"])
        if any(d < 1 for d in target) or math.prod(target) != math.prod(first):
            raise ValueError("a reshape to another number of values")
        return target, 0
    if kind == "Flatten":
        return (math.prod(first),), 0
    if kind == "Cropping1D":
        start, end = (int(c) for c in cfg["cropping"])
        return (first[0] - start - end, *first[1:]), 0
    if kind == "Conv2D":
        filters, (kh, kw) = int(cfg["filters"]), (int(k) for k in cfg["kernel_size"])
        rows, cols, channels = first
        if cfg.get("padding") != "same":
            rows, cols = rows - kh + 1, cols - kw + 1
        return (rows, cols, filters), kh * kw * channels * filters + filters
    if kind == "MaxPooling2D":
        (ph, pw), (sh, sw) = (
            [int(v) for v in cfg.get(key) or cfg["pool_size"]] for key in ("pool_size", "strides")
        )
        rows, cols, channels = first
        return ((rows - ph) // sh + 1, (cols - pw) // sw + 1, channels), 0
    if kind == "LSTM":
        units, n_in = int(cfg["units"]), first[-1]
        shape = (first[0], units) if cfg.get("return_sequences") else (units,)
        return shape, 4 * (n_in * units + units * units + units)
    # element-wise: dropout, averages, votes, identity
    widest = max(inputs, key=math.prod, default=(0,))
    return widest, len(inputs) if kind == "WeightedAverage" else 0


def _inbound_layers(node: Any):
    """The names of the layers whose outputs feed a layer, from its 'inbound_nodes'."""
    if isinstance(node, dict):
        history = (node.get("config") or {}).get("keras_history") if node.get("class_name") else None
        if node.get("class_name") == "__keras_tensor__" and isinstance(history, list) and history:
            yield str(history[0])
            return
        for value in node.values():
            yield from _inbound_layers(value)
    elif isinstance(node, list):
        for value in node:
            yield from _inbound_layers(value)


def _declared_output_names(config: dict[str, Any]) -> list[str]:
    outputs = (config.get("config") or {}).get("output_layers") if isinstance(config, dict) else None
    if isinstance(outputs, dict):
        return [str(k) for k in outputs]
    return []


def _shape(shape: Any) -> str:
    if isinstance(shape, (list, tuple)):
        return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"
    return repr(shape)


def _without_paths(text: str, *paths_: Path) -> str:
    """An error message with no server path in it (the visitor needs the reason, not our folders)."""
    for path in paths_:
        text = text.replace(str(path), "<upload>").replace(str(path.parent), "<folder>")
    text = re.sub(r"(?:[A-Za-z]:)?[\\/](?:[^\s'\"\\/]+[\\/])+[^\s'\",)]*", "<path>", text)
    return text.strip().splitlines()[0][:300] if text.strip() else ""


def check_fusion_model(model) -> RunConfig:
    """The RunConfig of a loaded model that fits Fusion Lab exactly, or NotAFusionModel saying why.

    Checks one 784-pixel input, a dict of outputs 'member_0'... and 'fused' of 10 classes each,
    the member count the model's name promises, and that rebuilding the network its layers
    describe gives the same layers with the same weight shapes.
    """
    from fusion_core.models import build_model

    inputs = list(getattr(model, "inputs", None) or [])
    if len(inputs) != 1 or list(inputs[0].shape) != INPUT_SHAPE:
        shapes = ", ".join(_shape(list(i.shape)) for i in inputs) or "none"
        raise NotAFusionModel(
            f"expected one input of 784 pixels, shape (None, 784). Received: inputs {shapes}"
        )
    output = getattr(model, "output", None)
    if not isinstance(output, dict):
        raise NotAFusionModel(
            "expected a dict of outputs 'member_0', ... and 'fused'. "
            f"Received: {type(output).__name__} outputs"
        )
    names = list(output)
    members = sorted(n for n in names if member_index(n) is not None)
    expected = [member_name(k) for k in range(len(members))]
    if FUSED not in names or not members or members != sorted(expected) or len(names) != len(members) + 1:
        raise NotAFusionModel(f"expected outputs 'member_0', ... and 'fused'. Received: outputs={names}")
    for name, tensor in output.items():
        if list(tensor.shape) != [None, NUM_CLASSES]:
            raise NotAFusionModel(
                f"expected {NUM_CLASSES} classes per output. "
                f"Received: output {name!r} of shape {_shape(list(tensor.shape))}"
            )
    match = parse_model_name(model.name or "")
    if match and match[2] != len(members):
        raise NotAFusionModel(
            f"its name {model.name!r} promises {match[2]} members. Received: {len(members)} member outputs"
        )
    try:
        config = infer_config(model)
    except (ConfigError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise NotAFusionModel(f"its layers do not describe a Fusion Lab network ({exc})") from None
    rebuilt = build_model(config)
    got, want = _layer_shapes(model), _layer_shapes(rebuilt)
    if got != want:
        diff = sorted(set(got.items()) ^ set(want.items()))[:1]
        layer = diff[0][0] if diff else "?"
        raise NotAFusionModel(
            f"its layers do not match the Fusion Lab network they describe ({config.describe()}); "
            f"first difference at layer {layer!r}: expected {want.get(layer)}, received {got.get(layer)}"
        )
    return config


def _layer_shapes(model) -> dict[str, tuple]:
    return {
        layer.name: (type(layer).__name__, tuple(tuple(w.shape) for w in layer.weights))
        for layer in model.layers
    }


def register_uploaded_model(store, filename: str, data: bytes, *, mnist=None) -> int:
    """Check an uploaded .keras file completely, then add it to the store as a run; returns its id.

    Nothing is stored unless every check passes (`check_declared_architecture`, loading in safe
    mode, `check_fusion_model`, scoring): a refused upload leaves no run and no file, and
    NotAFusionModel says why without naming server paths. With `mnist` (fusion_core.data.MnistData)
    it is scored on the test set. How the model was trained is not in the file, so the stored
    config has no 'training' section and the results say `training_known: False`.
    """
    from fusion_core import paths
    from fusion_core.jobs import model_path_for
    from fusion_core.models import load_model
    from fusion_core.store import MAX_NAME_CHARS, StoreError, clean_name

    check_declared_architecture(data)
    folder = paths.models_dir()
    fd, tmp = tempfile.mkstemp(prefix=".upload_", suffix=".keras", dir=folder)
    staging = Path(tmp)
    run_id = None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        try:
            model = load_model(staging)
        except Exception as exc:  # noqa: BLE001 - any failure to load means "not one of ours"
            reason = _without_paths(str(exc), staging) or type(exc).__name__
            kind = type(exc).__name__
            raise NotAFusionModel(f"it does not load as a Keras model ({kind}: {reason})") from None
        config = check_fusion_model(model)
        results: dict[str, Any] = {
            "uploaded_from": clean_name(Path(filename).name[:MAX_NAME_CHARS]),
            "training_known": False,  # epochs, images, optimizer: not saved in a .keras file
        }
        if mnist is not None:
            from fusion_core.evaluate import evaluate

            x_test = mnist.x_test.reshape(len(mnist.x_test), -1).astype("float32") / 255.0
            results.update(evaluate(model, x_test, mnist.y_test.astype("int64"), config.fusion.num_members))
        stored = config.to_dict()
        del stored["training"]  # unknown: not saved in a .keras file
        name = clean_name(Path(filename).stem[:MAX_NAME_CHARS]) or None
        run_id = store.create_run(stored, name=name, kind="upload")
        target = model_path_for(run_id)
        os.replace(staging, target)
        results["model_bytes"] = target.stat().st_size
        store.set_model_path(run_id, str(target))
        store.finish(run_id, "done", results=results)
        return run_id
    except BaseException as exc:
        if run_id is not None:  # stored half-way (a full disk): take it all back
            _forget(store, run_id)
        if isinstance(exc, (OSError, StoreError, MemoryError)):  # the reason, not our paths
            from fusion_core.jobs import friendly_error

            raise UploadFailed(_without_paths(friendly_error(exc), staging)) from exc
        raise
    finally:
        staging.unlink(missing_ok=True)


def _forget(store, run_id: int) -> None:
    from fusion_core.store import StoreError

    try:
        store.delete(run_id)
    except StoreError:
        pass
