"""Serving requests in a thread of the engine's main process while it runs."""

from __future__ import annotations

import contextlib
import socketserver
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def serving(server: socketserver.BaseServer, name: str) -> Iterator[None]:
    """Run ``server`` in a daemon thread until the block ends, then stop it and close its socket."""
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
