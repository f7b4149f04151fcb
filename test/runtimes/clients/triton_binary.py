"""Call a v2 endpoint with tritonclient[http] and its defaults: inputs as binary tensor data and, with no outputs
named, every output asked for as binary (binary_data_output). Prints {"ok": true, "outputs": {...}, "extensions": [...]}
or {"ok": false, "status": ..., "error": ...}.

usage: triton_binary.py HOST:PORT MODEL ROWS_JSON
"""
import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


def main(url: str, model: str, rows: list) -> dict:
    client = httpclient.InferenceServerClient(url=url, network_timeout=60.0)
    try:
        tensor = httpclient.InferInput("input-0", [len(rows), len(rows[0])], "FP32")
        tensor.set_data_from_numpy(np.array(rows, dtype=np.float32))
        result = client.infer(model, [tensor])
        names = [o["name"] for o in result.get_response()["outputs"]]
        return {"ok": True, "outputs": {n: result.as_numpy(n).tolist() for n in names}}
    except InferenceServerException as e:
        return {"ok": False, "status": e.status(), "error": e.message()}
    finally:
        client.close()


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))))
