"""Start NVIDIA Triton Inference Server on the CPU, using the tritonserver binary that nvidia-pytriton ships.

KServe's `kserve-tritonserver` runtime runs `tritonserver --model-store=<storageUri> --http-port=8080
--grpc-port=9000 --allow-grpc=true --allow-http=true`. Here the same binary (from the nvidia-pytriton wheel,
with only the python backend bundled) is laid out in a temp dir with the python-backend stub that matches this
interpreter, as pytriton itself does (once per venv: <venv>/.sluice-tritonserver-*), then exec'd with:
  --model-repository=--model_dir  --http-port=--http_port on 127.0.0.1
  gRPC on a free loopback port (Triton cannot serve HTTP without opening gRPC unless --allow-grpc=false,
  which is what this launcher passes by default; --grpc_port <port> serves gRPC there), metrics off.
--model_name is accepted for symmetry with the other launchers; Triton serves every model in the repository.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import sysconfig
import tempfile

from _ports import free_port


def pytriton_dist() -> tuple[str, str]:
    import pytriton

    root = os.path.dirname(os.path.abspath(pytriton.__file__))
    return os.path.join(root, "tritonserver"), os.path.join(os.path.dirname(root), "nvidia_pytriton.libs")


def prepared_server(dist: str) -> str:
    """The binary tree with this interpreter's python-backend stub, laid out once per venv and reused.

    Built in a temp dir beside the final one and renamed into place, so concurrent launches never see half a tree.
    """
    from importlib.metadata import version as dist_version

    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    final = os.path.join(sys.prefix, f".sluice-tritonserver-{dist_version('nvidia-pytriton')}-py{version}")
    if os.path.isfile(os.path.join(final, "backends", "python", "triton_python_backend_stub")):
        return final
    staging = tempfile.mkdtemp(prefix=".sluice-tritonserver-staging-", dir=sys.prefix)
    server = os.path.join(staging, "tritonserver")
    shutil.copytree(dist, server, ignore=shutil.ignore_patterns("python_backend_stubs", "__pycache__"))
    shutil.copy(os.path.join(dist, "python_backend_stubs", version, "triton_python_backend_stub"),
                os.path.join(server, "backends", "python", "triton_python_backend_stub"))
    try:
        os.rename(server, final)
    except OSError:
        pass  # another launch won the race; its tree is identical
    shutil.rmtree(staging, ignore_errors=True)
    return final


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_name", default="")
    parser.add_argument("--model_dir", required=True, help="a Triton model repository")
    parser.add_argument("--http_port", type=int, required=True)
    parser.add_argument("--grpc", action="store_true", help="also serve gRPC (on a free port)")
    parser.add_argument("--grpc_port", type=int, default=0, help="serve gRPC on this port (0: off, unless --grpc)")
    args = parser.parse_args()
    repository = os.path.abspath(args.model_dir[7:] if args.model_dir.startswith("file://") else args.model_dir)
    if not os.path.isdir(repository):
        raise SystemExit(f"triton_launch: model repository {repository} does not exist")

    dist, libs = pytriton_dist()
    server = prepared_server(dist)

    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = ":".join(p for p in (env.get("LD_LIBRARY_PATH"), libs, sysconfig.get_config_var("LIBDIR")) if p)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    command = [
        os.path.join(server, "bin", "tritonserver"),
        f"--model-repository={repository}",
        f"--backend-directory={os.path.join(server, 'backends')}",
        f"--cache-directory={os.path.join(server, 'caches')}",
        "--allow-http=true", "--http-address=127.0.0.1", f"--http-port={args.http_port}",
        f"--allow-grpc={'true' if args.grpc or args.grpc_port else 'false'}", "--grpc-address=127.0.0.1",
        f"--grpc-port={args.grpc_port or free_port()}",
        "--allow-metrics=false", "--exit-on-error=true", "--strict-readiness=true",
    ]
    print(f"triton_launch: {' '.join(command)}", file=sys.stderr, flush=True)
    os.execve(command[0], command, env)


if __name__ == "__main__":
    main()
