"""An app served on a free loopback port in a background thread, for as long as a block runs:
the demo's receiver and the browser tests' live servers.

    with serve_in_thread(create_app(store)) as url:
        ...  # http://127.0.0.1:PORT
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from assay.core import AssayError


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_in_thread(app: Any, *, start_timeout: float = 20.0) -> Iterator[str]:
    """Serve ``app`` (an ASGI app) with uvicorn on a free loopback port; yields its base URL
    once it accepts connections and stops it (letting shutdown handlers run) on exit."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="assay-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise AssayError("the web server did not start", where=f"127.0.0.1:{port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
