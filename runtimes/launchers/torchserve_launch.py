"""Start TorchServe for one model the way KServe's `kserve-torchserve` runtime lays it out, on one port.

--model_dir is KServe's layout (<dir>/model-store/*.mar, optional <dir>/config/config.properties) or a
directory of .mar files. A config.properties is written to a temp dir:
  inference_address  127.0.0.1:--http_port. TorchServe's own frontend answers there: /ping,
                     /predictions/<m>, and KServe's paths /v1/models/<m>:predict, /v2/models/<m>/infer,
                     /v2/health/ready (the last with ts_open_inference_protocol=true, set here)
  service_envelope   kserve (--protocol v1, the default) or kservev2 (--protocol v2), as KServe sets it
  grpc_inference_port --grpc_port when given: TorchServe's own gRPC inference API
                     (org.pytorch.serve.grpc.inference.InferenceAPIsService: Ping, Predictions,
                     StreamPredictions), the port Sluice forwards gRPC calls to; else a free loopback port
  management/metrics/gRPC management ports: free loopback ports picked here (TorchServe always opens them)
  token authorisation off, no config snapshots, one worker per model, logs under the temp dir
TorchServe's CLI forks a JVM that forks Python workers; they stay in the launcher's process group, and on
SIGTERM/SIGINT the launcher ends the whole tree and removes its temp dir (runtimes/launchers/_supervise.py).
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile

import _supervise
from _ports import free_port


def model_store(model_dir: str) -> str:
    nested = os.path.join(model_dir, "model-store")
    store = nested if os.path.isdir(nested) else model_dir
    if not glob.glob(os.path.join(store, "*.mar")):
        raise SystemExit(f"torchserve_launch: no .mar file in {store}")
    return store


def read_properties(path: str) -> dict[str, str]:
    props: dict[str, str] = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    key, value = line.split("=", 1)
                    props[key.strip()] = value.strip()
    return props


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_name", required=True)
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--http_port", type=int, required=True)
    parser.add_argument("--protocol", choices=["v1", "v2"], default="v1")
    parser.add_argument("--grpc_port", type=int, default=0, help="TorchServe's gRPC inference API port (0: a free one)")
    args = parser.parse_args()
    model_dir = os.path.abspath(args.model_dir[7:] if args.model_dir.startswith("file://") else args.model_dir)
    store = model_store(model_dir)
    mar = os.path.join(store, f"{args.model_name}.mar")
    load = f"{args.model_name}.mar" if os.path.exists(mar) else "all"

    work = tempfile.mkdtemp(prefix=f"sluice-torchserve-{args.model_name}-")
    props = read_properties(os.path.join(model_dir, "config", "config.properties"))
    props.pop("model_snapshot", None)  # the model to load is named here, not by a snapshot
    props.update({
        "inference_address": f"http://127.0.0.1:{args.http_port}",
        "management_address": f"http://127.0.0.1:{free_port()}",
        "metrics_address": f"http://127.0.0.1:{free_port()}",
        "grpc_inference_address": "127.0.0.1",
        "grpc_management_address": "127.0.0.1",
        "grpc_inference_port": str(args.grpc_port or free_port()),
        "grpc_management_port": str(free_port()),
        "service_envelope": "kservev2" if args.protocol == "v2" else "kserve",
        "ts_open_inference_protocol": "true",  # (env form: TS_OPEN_INFERENCE_PROTOCOL=oip) adds /v2/health/ready, /v2/health/live, /v2/models/<m>[/ready]
        "model_store": store,
        "load_models": load,
        "default_workers_per_model": props.get("default_workers_per_model", "1"),
        "number_of_netty_threads": props.get("number_of_netty_threads", "2"),
        "netty_client_threads": props.get("netty_client_threads", "1"),
        "install_py_dep_per_model": "false",
        "disable_token_authorization": "true",
        "enable_envvars_config": "false",
    })
    config = os.path.join(work, "config.properties")
    with open(config, "w", encoding="utf-8") as f:
        f.writelines(f"{k}={v}\n" for k, v in props.items())

    env = dict(os.environ, LOG_LOCATION=os.path.join(work, "logs"), METRICS_LOCATION=os.path.join(work, "logs"),
               TEMP=work, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    torchserve = os.path.join(os.path.dirname(sys.executable), "torchserve")
    command = [torchserve, "--start", "--foreground", "--ncs", "--disable-token-auth",
               "--ts-config", config, "--model-store", store, "--models", load]
    print(f"torchserve_launch: {' '.join(command)} (config {config})", file=sys.stderr, flush=True)
    _supervise.run(command, env, cwd=work, scratch=work)


if __name__ == "__main__":
    main()
