"""Call a runtime with the KServe SDK's own REST client (kserve.InferenceRESTClient) and print the answer as JSON.

usage: kserve_rest.py BASE_URL MODEL v1|v2 REQUEST_JSON
v1: REQUEST_JSON is the {"instances": ...} body. v2: it is {"inputs": [{"name","shape","datatype","data"}]},
sent as a kserve InferRequest. Prints {"ok": true, "body": ...} or {"ok": false, "status": N, "error": "..."}.
"""
import asyncio
import json
import sys

import httpx
import numpy as np
from kserve import InferenceRESTClient, RESTConfig
from kserve.protocol.infer_type import InferInput, InferRequest


async def main(base_url: str, model: str, protocol: str, request: dict) -> dict:
    client = InferenceRESTClient(RESTConfig(protocol=protocol, timeout=60, retries=0))
    try:
        if protocol == "v1":
            return {"ok": True, "body": await client.infer(base_url, request, model_name=model)}
        inputs = []
        for spec in request["inputs"]:
            tensor = InferInput(name=spec["name"], shape=spec["shape"], datatype=spec["datatype"])
            tensor.set_data_from_numpy(np.array(spec["data"]).reshape(spec["shape"]).astype(
                {"FP64": np.float64, "FP32": np.float32, "INT64": np.int64}[spec["datatype"]]), binary_data=False)
            inputs.append(tensor)
        response = await client.infer(base_url, InferRequest(model_name=model, infer_inputs=inputs), model_name=model)
        return {"ok": True, "body": {"model_name": response.model_name,
                                     "outputs": {o.name: o.as_numpy().tolist() for o in response.outputs}}}
    except httpx.HTTPStatusError as e:
        return {"ok": False, "status": e.response.status_code, "error": str(e)}
    finally:
        await client.close()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])))))
