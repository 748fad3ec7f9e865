"""Uploaded .keras models: checked completely before anything is stored, limits read from the zip."""

from __future__ import annotations

import io
import json
import time
import zipfile

import keras
import pytest

from fusion_core import paths
from fusion_core.config import MAX_UNITS, make_config
from fusion_core.models import build_model
from fusion_core.store import RunStore
from fusion_core.uploads import NotAFusionModel, UploadFailed, register_uploaded_model


@pytest.fixture
def store(fusion_home):
    s = RunStore()
    yield s
    s.close()


def keras_bytes(model) -> bytes:
    path = paths.home_dir() / "elsewhere" / "to_upload.keras"
    path.parent.mkdir(exist_ok=True)
    model.save(path)
    data = path.read_bytes()
    path.unlink()
    return data


def small_config(fusion="parallel", members=2, rule="soft"):
    return make_config(fusion, members, rule, hidden_layers=1, hidden_units=16)


def with_config(data: bytes, edit) -> bytes:
    """The same .keras zip with its config.json changed by `edit(config)`; the weights untouched."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "config.json":
                config = json.loads(content)
                edit(config)
                content = json.dumps(config).encode()
            target.writestr(info.filename, content)
    return out.getvalue()


def nothing_stored(store) -> bool:
    leftovers = list(paths.models_dir().iterdir())
    return store.list_runs() == [] and leftovers == []


def refused(store, data: bytes, needle: str) -> str:
    with pytest.raises(NotAFusionModel) as info:
        register_uploaded_model(store, "upload.keras", data)
    message = str(info.value)
    assert needle in message, message
    assert nothing_stored(store), (store.list_runs(), list(paths.models_dir().iterdir()))
    assert str(paths.home_dir()) not in message and "/tmp" not in message
    return message


def dict_model(inputs, body, classes=10, name="parallel_soft_x2"):
    outputs = {f"member_{k}": keras.layers.Dense(classes, activation="softmax", name=f"member_{k}")(body)
               for k in range(2)}  # fmt: skip
    outputs["fused"] = keras.layers.Average(name="fused")(list(outputs.values()))
    return keras.Model(inputs, outputs, name=name)


def test_a_fusion_lab_model_becomes_one_run_at_its_id_path_with_unknown_training(store):
    config = small_config("parallel", 3, "weighted")
    run_id = register_uploaded_model(store, "mine.keras", keras_bytes(build_model(config)))
    run = store.get_run(run_id)
    assert run["kind"] == "upload" and run["status"] == "done" and run["name"] == "mine"
    assert run["model_path"] == str((paths.models_dir() / f"run_{run_id}.keras").resolve())
    assert sorted(p.name for p in paths.models_dir().iterdir()) == [f"run_{run_id}.keras"]
    assert run["config"]["fusion"] == config.to_dict()["fusion"]
    assert "training" not in run["config"]  # not "5 epochs on 60,000 images": unknown
    assert run["results"]["training_known"] is False
    assert store.find_done_run(config.to_dict()) is None  # never reused as a trained default run


def test_list_outputs_are_refused(store):
    model = build_model(small_config())
    as_list = keras.Model(model.inputs, [model.output[k] for k in ("member_0", "member_1", "fused")])
    refused(store, keras_bytes(as_list), "Received: list outputs")


@pytest.mark.parametrize("shape", [(28, 28), (100,)])
def test_another_input_shape_is_refused_before_loading(store, shape):
    inputs = keras.Input(shape=shape)
    body = keras.layers.Flatten()(inputs) if len(shape) > 1 else inputs
    message = refused(store, keras_bytes(dict_model(inputs, keras.layers.Dense(16)(body))), "784 pixels")
    assert str(shape[0]) in message


def test_five_classes_are_refused(store):
    inputs = keras.Input(shape=(784,), name="pixels")
    refused(store, keras_bytes(dict_model(inputs, inputs, classes=5)), "10 classes per output")


def test_a_name_that_promises_more_members_than_inside_is_refused(store):
    model = build_model(small_config("parallel", 2, "soft"))
    renamed = keras.Model(model.inputs, model.output, name="parallel_soft_x3")
    refused(store, keras_bytes(renamed), "promises 3 members")


def test_layers_that_are_not_fusion_lab_members_are_refused(store):
    inputs = keras.Input(shape=(784,), name="pixels")
    body = keras.layers.Dense(16, name="not_a_member_layer")(inputs)
    refused(store, keras_bytes(dict_model(inputs, body)), "do not describe a Fusion Lab network")


def test_layers_wired_unlike_the_fusion_their_name_gives_are_refused(store):
    model = build_model(small_config("parallel", 2, "soft"))
    renamed = keras.Model(model.inputs, model.output, name="serial_cascade_x2")
    refused(store, keras_bytes(renamed), "do not match")


def test_a_huge_declared_layer_is_refused_fast_without_building_it(store):
    data = keras_bytes(build_model(small_config()))

    def widen(config):
        for layer in config["config"]["layers"]:
            if layer["config"]["name"] == "member_0_dense_0":
                layer["config"]["units"] = 500_000

    huge = with_config(data, widen)
    t0 = time.perf_counter()
    message = refused(store, huge, "units=500000")
    assert time.perf_counter() - t0 < 1.0  # read from config.json, nothing allocated
    assert f"{MAX_UNITS:,}" in message


def test_too_many_declared_layers_are_refused(store):
    data = keras_bytes(build_model(small_config()))

    def pad(config):
        layer = config["config"]["layers"][1]
        config["config"]["layers"] += [
            {**layer, "config": {**layer["config"], "name": f"x{i}"}} for i in range(300)
        ]

    refused(store, with_config(data, pad), "declares 3")


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"junk", "not a .keras file"),
        (b"PK\x03\x04broken", "not a .keras file"),
        (b"PK\x05\x06" + bytes(18), "no config.json"),
    ],
)
def test_files_that_are_not_keras_zips_are_refused(store, data, needle):
    refused(store, data, needle)


def test_a_load_error_never_shows_a_server_path(store):
    data = keras_bytes(build_model(small_config()))
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:  # config and metadata, but no weights file
        for info in source.infolist():
            if not info.filename.endswith(".h5"):
                target.writestr(info.filename, source.read(info))
    message = refused(store, out.getvalue(), "does not load as a Keras model")
    assert "filepath=" not in message and "models" not in message


def test_a_store_failure_after_checking_leaves_no_run_and_no_file(store, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "set_model_path", full_disk)
    with pytest.raises(UploadFailed, match="disk is full"):
        register_uploaded_model(store, "mine.keras", keras_bytes(build_model(small_config())))
    assert nothing_stored(store)


def test_a_store_error_while_storing_names_no_server_path(store, monkeypatch):
    from fusion_core.store import StoreError

    def read_only(*args, **kwargs):
        raise StoreError(f"The run store {store.path} cannot be written (read-only). Make it writable.")

    monkeypatch.setattr(store, "create_run", read_only)
    with pytest.raises(UploadFailed) as info:
        register_uploaded_model(store, "mine.keras", keras_bytes(build_model(small_config())))
    assert "cannot be written" in str(info.value) and str(paths.home_dir()) not in str(info.value)
    assert nothing_stored(store)


def dense(name: str, units: int, source: str) -> dict:
    history = {"shape": [None, 8], "keras_history": [source, 0, 0]}
    tensor = {"class_name": "__keras_tensor__", "config": history}
    return {
        "module": "keras.layers",
        "class_name": "Dense",
        "name": name,
        "config": {"name": name, "units": units, "activation": "relu"},
        "inbound_nodes": [{"args": [tensor], "kwargs": {}}],
    }


def test_more_parameters_than_any_fusion_lab_model_are_refused_from_the_wiring(store):
    """Each layer within the limits, together far beyond them; the declared shapes even lie (8 wide)."""
    data = keras_bytes(build_model(small_config()))

    def deepen(config):
        chain = [dense(f"deep_{i}", MAX_UNITS, "pixels" if i == 0 else f"deep_{i - 1}") for i in range(90)]
        config["config"]["layers"][1:1] = chain

    t0 = time.perf_counter()
    message = refused(store, with_config(data, deepen), "parameters; the largest Fusion Lab model has")
    assert time.perf_counter() - t0 < 1.0
    declared = int(message.split(" parameters")[0].rsplit(" ", 1)[1].replace(",", ""))
    assert declared >= 784 * 2048 + 2048 + 89 * (2048 * 2048 + 2048)  # from the wiring, not the shapes


def test_a_layer_fusion_lab_never_makes_is_refused(store):
    data = keras_bytes(build_model(small_config()))

    def convolve(config):
        config["config"]["layers"][1]["class_name"] = "Conv3D"

    refused(store, with_config(data, convolve), "is a Conv3D")


def test_an_upload_beyond_this_machines_parameter_limit_is_refused(store, monkeypatch):
    """Uploads meet the same limit as a run trained here (fusion_core.limits), before anything is built."""
    from fusion_core import limits, uploads

    small = limits.Limits(max_parameters=1_000)
    monkeypatch.setattr(
        uploads,
        "check_parameter_count",
        lambda count, what: limits.check_parameter_count(count, what=what, limits=small),
    )
    message = refused(store, keras_bytes(build_model(small_config())), "too large for this machine")
    assert "the limit is 1,000" in message
