"""Free loopback ports for a runtime's extra listeners (gRPC, metrics, management).

The local backend hands a replica exactly one port ({{port}}); whatever else a runtime insists on opening is
given a port the kernel picked here. A tiny race (the port is released before the runtime binds it) is
accepted: on failure the runtime exits and the backend reports the replica as failed to start.
"""
import socket


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
