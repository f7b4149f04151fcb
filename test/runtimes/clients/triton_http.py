"""Call a v2 (Open Inference Protocol) endpoint with tritonclient[http] and print the answer as JSON.

usage: triton_http.py HOST:PORT MODEL REQUEST_JSON
REQUEST_JSON: {"inputs": [{"name","shape","datatype","data"}], "outputs": [names] (optional),
               "parameters": {...} (optional, request-level),
               "json_content_type": false (optional: send tritonclient's own headers, no Content-Type)}
Prints {"ok": true, "outputs": {name: nested list}} or {"ok": false, "status": "...", "error": "..."}.
"""
import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

DTYPES = {"FP64": np.float64, "FP32": np.float32, "INT64": np.int64, "INT32": np.int32}


def plain(value):
    """BYTES tensors come back as bytes objects: decode them for JSON."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value.decode("utf-8") if isinstance(value, bytes) else value


def main(url: str, model: str, request: dict) -> dict:
    client = httpclient.InferenceServerClient(url=url, network_timeout=60.0)
    try:
        inputs = []
        for spec in request["inputs"]:
            tensor = httpclient.InferInput(spec["name"], spec["shape"], spec["datatype"])
            tensor.set_data_from_numpy(np.array(spec["data"], dtype=DTYPES[spec["datatype"]]).reshape(spec["shape"]),
                                       binary_data=False)
            inputs.append(tensor)
        outputs = [httpclient.InferRequestedOutput(n, binary_data=False) for n in request.get("outputs", [])] or None
        # tritonclient sends no Content-Type; KServe's SDK server then takes the body for binary tensor data and
        # refuses it (400 "...'inference-header-content-length' header is missing"). MLServer and Triton do not care.
        headers = {"Content-Type": "application/json"} if request.get("json_content_type", True) else None
        result = client.infer(model, inputs, outputs=outputs, parameters=request.get("parameters"), headers=headers)
        names = [o["name"] for o in result.get_response()["outputs"]]
        return {"ok": True, "outputs": {n: plain(result.as_numpy(n).tolist()) for n in names}}
    except InferenceServerException as e:
        return {"ok": False, "status": e.status(), "error": e.message()}
    finally:
        client.close()


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))))
