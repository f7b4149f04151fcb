"""TorchServe handler for the Sluice conformance MNIST-sized model (a module-level `handle`).

With `service_envelope=kservev2` it passes the list of v2 input tensors and expects one output per input.
With `service_envelope=kserve` TorchServe unwraps `{"instances": [...]}` before calling `handle` and wraps the
returned list as `{"predictions": [...]}`. Without an envelope, a request body may be `{"instances": [...]}`
or a bare list of rows. Each row is 784 floats; the answer per row is its class index.
"""
import json
import os

import torch

_model = None


def _load(context) -> None:
    global _model  # TorchServe's function-handler contract keeps state in the module
    props = context.system_properties
    serialized = context.manifest["model"]["serializedFile"]
    torch.set_num_threads(1)
    _model = torch.jit.load(os.path.join(props["model_dir"], serialized), map_location="cpu").eval()


def _rows(data):
    # kservev2 envelope: a list of input tensors, already reshaped; the first one holds the rows.
    if isinstance(data, list) and data and isinstance(data[0], dict) and "datatype" in data[0]:
        return data[0]["data"]
    if isinstance(data, list) and data and isinstance(data[0], dict) and ("body" in data[0] or "data" in data[0]):
        body = data[0].get("body") or data[0].get("data")
        if isinstance(body, (bytes, bytearray)):
            body = json.loads(body.decode())
        if isinstance(body, dict):
            body = body.get("instances")
        return body
    return data


def handle(data, context):
    if _model is None:
        _load(context)
    if data is None:
        return None
    rows = _rows(data)
    if not isinstance(rows, list) or not rows:
        raise ValueError("expected a non-empty list of 784-float rows under 'instances'")
    tensor = torch.tensor(rows, dtype=torch.float32)
    if tensor.dim() != 2 or tensor.shape[1] != 784:
        raise ValueError(f"expected rows of 784 floats, got shape {list(tensor.shape)}")
    with torch.no_grad():
        classes = torch.argmax(_model(tensor), dim=1).tolist()
    if isinstance(data, list) and data and isinstance(data[0], dict) and "datatype" in data[0]:
        return [classes]  # one output per input tensor for the kservev2 envelope
    return classes
