"""What every KServe-SDK launcher here shares: the real servers' command line and the start-up sequence.

The flags are kserve.model_server's own parser (--http_port, --grpc_port, --workers, --enable_grpc, ...) plus
--model_dir and --model_name, as KServe's sklearnserver/xgbserver/lgbserver/pmmlserver take them. One change
of default: gRPC is off unless `--enable_grpc true` is given, because the local backend hands out one port
per replica ({{port}}) and the SDK's default gRPC port 8081 would collide between replicas.
"""
from __future__ import annotations

import argparse
import logging
import os
from typing import Callable, Sequence

import kserve
from kserve import model_server
from kserve.errors import ModelMissingError

logger = logging.getLogger("sluice.launcher")


def parse_args(description: str, extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description, parents=[model_server.parser])
    parser.add_argument("--model_dir", required=True, help="local directory (or file:// URI) holding the model")
    parser.set_defaults(enable_grpc=False)
    if extra is not None:
        extra(parser)
    args, _ = parser.parse_known_args()
    return args


def local_dir(model_dir: str) -> str:
    """KServe's storage initialiser has already copied the model when a server starts; here storageUri is local."""
    path = model_dir[len("file://"):] if model_dir.startswith("file://") else model_dir
    if not os.path.isdir(path):
        raise ModelMissingError(path)
    return path


def find_model_file(model_dir: str, candidates: Sequence[str]) -> str:
    """Exactly one of `candidates` must exist in the directory (as the real servers require)."""
    base = local_dir(model_dir)
    found = [os.path.join(base, name) for name in candidates if os.path.exists(os.path.join(base, name))]
    if not found:
        raise ModelMissingError(base)
    if len(found) > 1:
        raise RuntimeError(f"more than one model file in {base}: {found}; only one is allowed")
    return found[0]


def serve(model: kserve.Model, args: argparse.Namespace) -> None:
    model.load()
    server = kserve.ModelServer(
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        enable_grpc=args.enable_grpc,
        workers=args.workers,
    )
    logger.info("serving %s from %s on http port %s (grpc %s)", model.name, args.model_dir, args.http_port,
                args.grpc_port if args.enable_grpc else "off")
    server.start([model])
