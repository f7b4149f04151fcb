"""Call a runtime's v2 gRPC endpoint with the KServe SDK's own gRPC client (kserve.InferenceGRPCClient).

usage: kserve_grpc.py HOST:PORT MODEL REQUEST_JSON
REQUEST_JSON: {"inputs": [{"name","shape","datatype","data"}]}.
Prints {"ok": true, "model_name": ..., "outputs": {name: nested list}} or {"ok": false, "code": "...", "error": "..."}.
"""
import asyncio
import json
import sys

import grpc
import numpy as np
from kserve import InferenceGRPCClient
from kserve.protocol.infer_type import InferInput, InferRequest

DTYPES = {"FP64": np.float64, "FP32": np.float32, "INT64": np.int64}


async def main(url: str, model: str, request: dict) -> dict:
    # No client-side retries: a failure must show as it happened.
    client = InferenceGRPCClient(url, timeout=120, channel_args=[("grpc.enable_retries", 0)])
    try:
        inputs = []
        for spec in request["inputs"]:
            tensor = InferInput(name=spec["name"], shape=spec["shape"], datatype=spec["datatype"])
            tensor.set_data_from_numpy(np.array(spec["data"]).reshape(spec["shape"]).astype(DTYPES[spec["datatype"]]))
            inputs.append(tensor)
        response = await client.infer(InferRequest(model_name=model, infer_inputs=inputs))
        return {"ok": True, "model_name": response.model_name,
                "outputs": {o.name: o.as_numpy().tolist() for o in response.outputs}}
    except grpc.RpcError as e:
        return {"ok": False, "code": str(e.code()), "error": e.details()}
    finally:
        await client.close()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))))
