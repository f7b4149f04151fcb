"""Call a v2 (Open Inference Protocol) gRPC endpoint with tritonclient[grpc] and print the answer as JSON.

usage: triton_grpc.py HOST:PORT MODEL REQUEST_JSON [STREAM_COUNT]
REQUEST_JSON: {"inputs": [{"name","shape","datatype","data"}], "outputs": [names] (optional)}.
Without STREAM_COUNT: one ModelInfer. With it: the request STREAM_COUNT times over Triton's bidirectional
ModelStreamInfer. Prints {"ok": true, "outputs": {name: nested list}, "server_ready": bool} (streamed:
"streamed": [outputs, ...]) or {"ok": false, "status": "...", "error": "..."}.
"""
import json
import queue
import sys

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

DTYPES = {"FP64": np.float64, "FP32": np.float32, "INT64": np.int64, "INT32": np.int32}


def build(request: dict):
    inputs = []
    for spec in request["inputs"]:
        tensor = grpcclient.InferInput(spec["name"], spec["shape"], spec["datatype"])
        tensor.set_data_from_numpy(np.array(spec["data"], dtype=DTYPES[spec["datatype"]]).reshape(spec["shape"]))
        inputs.append(tensor)
    outputs = [grpcclient.InferRequestedOutput(n) for n in request.get("outputs", [])] or None
    return inputs, outputs


def as_dict(result) -> dict:
    names = [o.name for o in result.get_response().outputs]
    return {n: result.as_numpy(n).tolist() for n in names}


def main(url: str, model: str, request: dict, stream: int) -> dict:
    client = grpcclient.InferenceServerClient(url=url)
    try:
        inputs, outputs = build(request)
        if stream == 0:
            result = client.infer(model, inputs, outputs=outputs, client_timeout=120.0)
            return {"ok": True, "outputs": as_dict(result), "server_ready": client.is_server_ready()}
        answers: "queue.Queue" = queue.Queue()
        client.start_stream(callback=lambda result, error: answers.put((result, error)))
        for i in range(stream):
            client.async_stream_infer(model, inputs, outputs=outputs, request_id=str(i))
        streamed = []
        for _ in range(stream):
            result, error = answers.get(timeout=120)
            if error is not None:
                raise error
            streamed.append(as_dict(result))
        client.stop_stream()
        return {"ok": True, "streamed": streamed}
    except InferenceServerException as e:
        return {"ok": False, "status": e.status(), "error": e.message()}
    finally:
        client.close()


if __name__ == "__main__":
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    print(json.dumps(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), count)))
