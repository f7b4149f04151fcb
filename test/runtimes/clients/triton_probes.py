"""Call a server's health, metadata and readiness endpoints (and optionally one inference) with tritonclient[http],
the way a client or a load balancer's probe would, and print every answer as JSON.

usage: triton_probes.py HOST:PORT MODEL STEPS_JSON
STEPS_JSON: a list of steps, each one of
  "server_live" | "server_ready" | "server_metadata" | "model_ready" | "model_metadata" | "infer"
("infer" sends one FP32 [1, 4] row as input "x", JSON tensors.)
Prints [{"step": ..., "ok": true, "value": ...} | {"step": ..., "ok": false, "status": "...", "error": "..."}, ...].
"""
import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


def run(client, model, step):
    if step == "server_live":
        return client.is_server_live()
    if step == "server_ready":
        return client.is_server_ready()
    if step == "server_metadata":
        return client.get_server_metadata()
    if step == "model_ready":
        return client.is_model_ready(model)
    if step == "model_metadata":
        return client.get_model_metadata(model)
    if step == "infer":
        tensor = httpclient.InferInput("x", [1, 4], "FP32")
        tensor.set_data_from_numpy(np.array([[6.3, 3.3, 6.0, 2.5]], dtype=np.float32), binary_data=False)
        result = client.infer(model, [tensor], headers={"Content-Type": "application/json"})
        return result.get_response()
    raise ValueError(f"unknown step {step!r}")


def main(url, model, steps):
    client = httpclient.InferenceServerClient(url=url, network_timeout=60.0)
    out = []
    try:
        for step in steps:
            try:
                out.append({"step": step, "ok": True, "value": run(client, model, step)})
            except InferenceServerException as e:
                out.append({"step": step, "ok": False, "status": e.status(), "error": e.message()})
    finally:
        client.close()
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))))
