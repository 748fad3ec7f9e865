"""Uploads of models whose members are CNNs and LSTMs: recognised, rebuilt, counted from the wiring."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from test_uploads import keras_bytes, refused, store, with_config  # noqa: F401 - store is a fixture

from fusion_core.config import make_config
from fusion_core.models import build_model
from fusion_core.uploads import _declared_layers, _declared_parameters, register_uploaded_model

SMALL = {"hidden_units": 8, "filters": 4}


def declared_parameters(data: bytes) -> int:
    config = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("config.json"))
    return _declared_parameters(list(_declared_layers(config)))


@pytest.mark.parametrize(
    ("fusion", "rule", "kinds"),
    [("parallel", "soft", "mlp,cnn,lstm"), ("serial", "cascade", "cnn,lstm,mlp")],
)
def test_a_saved_mixed_model_becomes_a_run_with_each_members_kind(store, fusion, rule, kinds):  # noqa: F811
    config = make_config(fusion, rule=rule, kinds=kinds, **SMALL)
    model = build_model(config)
    data = keras_bytes(model)
    assert declared_parameters(data) == model.count_params()  # conv, pooling and LSTM shapes followed
    run = store.get_run(register_uploaded_model(store, "mixed.keras", data))
    assert run["status"] == "done"
    assert [m.get("kind", "mlp") for m in run["config"]["members"]] == kinds.split(",")
    assert run["config"]["members"] == config.to_dict()["members"]


def test_a_cnn_whose_convolution_was_widened_is_refused(store):  # noqa: F811
    data = keras_bytes(build_model(make_config("single", kinds="cnn", **SMALL)))

    def widen(config):
        for layer in config["config"]["layers"]:
            if layer["name"] == "member_0_conv_1":
                layer["config"]["kernel_size"] = [9, 9]

    refused(store, with_config(data, widen), "member_0_conv_1")  # its weights no longer fit
