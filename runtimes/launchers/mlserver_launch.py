"""Start MLServer (Seldon) for one model, as KServe's `kserve-mlserver` ClusterServingRuntime does.

Writes a settings dir (settings.json + <model>/model-settings.json) into a fresh temp dir and runs
`mlserver start <dir>` under runtimes/launchers/_supervise.py (SIGTERM ends it and removes the temp dir). REST listens on --http_port on 127.0.0.1; MLServer cannot turn gRPC off, so gRPC gets a
free port unless --grpc_port is given; the separate metrics server is disabled (metrics_endpoint null) and
inference runs in-process (parallel_workers 0) so one replica is one process.

--implementation auto picks from the model dir: model-settings.json (used as given, uri made absolute),
MLmodel -> mlserver_mlflow.MLflowRuntime, model.joblib/.pkl/.pickle -> mlserver_sklearn.SKLearnModel,
model.bst/.json/.ubj -> LightGBM when the file is LightGBM's text format, else mlserver_xgboost.XGBoostModel.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

import _supervise
from _ports import free_port

IMPLEMENTATIONS = {
    "sklearn": "mlserver_sklearn.SKLearnModel",
    "xgboost": "mlserver_xgboost.XGBoostModel",
    "lightgbm": "mlserver_lightgbm.LightGBMModel",
    "mlflow": "mlserver_mlflow.MLflowRuntime",
}


def detect(model_dir: str) -> str:
    names = set(os.listdir(model_dir))
    if "MLmodel" in names:
        return "mlflow"
    if names & {"model.joblib", "model.pkl", "model.pickle"}:
        return "sklearn"
    for name in ("model.bst", "model.txt", "model.json", "model.ubj"):
        if name in names:
            with open(os.path.join(model_dir, name), "rb") as f:
                head = f.read(64)
            return "lightgbm" if head.startswith(b"tree\n") or b"version=v" in head else "xgboost"
    raise SystemExit(f"mlserver_launch: cannot tell the model format of {model_dir} (files: {sorted(names)})")


def model_settings(args: argparse.Namespace, model_dir: str) -> dict:
    given = os.path.join(model_dir, "model-settings.json")
    if args.implementation == "auto" and os.path.exists(given):
        with open(given, encoding="utf-8") as f:
            settings = json.load(f)
        settings["name"] = args.model_name
        parameters = settings.setdefault("parameters", {})
        uri = parameters.get("uri", ".")
        parameters["uri"] = uri if os.path.isabs(uri) else os.path.normpath(os.path.join(model_dir, uri))
        return settings
    kind = detect(model_dir) if args.implementation == "auto" else args.implementation
    return {"name": args.model_name, "implementation": IMPLEMENTATIONS[kind], "parameters": {"uri": model_dir}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_name", required=True)
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--http_port", type=int, required=True)
    parser.add_argument("--grpc_port", type=int, default=0, help="0: a free port")
    parser.add_argument("--implementation", choices=["auto", *IMPLEMENTATIONS], default="auto")
    args = parser.parse_args()
    model_dir = os.path.abspath(args.model_dir[7:] if args.model_dir.startswith("file://") else args.model_dir)
    if not os.path.isdir(model_dir):
        raise SystemExit(f"mlserver_launch: model dir {model_dir} does not exist")

    root = tempfile.mkdtemp(prefix=f"sluice-mlserver-{args.model_name}-")
    server = {
        "host": "127.0.0.1",
        "http_port": args.http_port,
        "grpc_port": args.grpc_port or free_port(),
        "metrics_endpoint": None,
        "parallel_workers": 0,
        "debug": False,
        "load_models_at_startup": True,
        "model_repository_root": root,
        "metrics_dir": os.path.join(root, ".metrics"),
        "environments_dir": os.path.join(root, ".envs"),
    }
    with open(os.path.join(root, "settings.json"), "w", encoding="utf-8") as f:
        json.dump(server, f, indent=2)
    os.makedirs(os.path.join(root, args.model_name))
    settings = model_settings(args, model_dir)
    with open(os.path.join(root, args.model_name, "model-settings.json"), "w", encoding="utf-8") as f:
        json.dump(settings, f, indent=2)
    print(f"mlserver_launch: {settings['implementation']} for {args.model_name} on 127.0.0.1:{args.http_port} "
          f"(grpc {server['grpc_port']}), settings in {root}", file=sys.stderr, flush=True)
    mlserver = os.path.join(os.path.dirname(sys.executable), "mlserver")
    _supervise.run([mlserver, "start", root], os.environ, cwd=root, scratch=root)


if __name__ == "__main__":
    main()
