"""Running the explorer: bind the socket first (so the URL printed is the one that works), then
hand it to uvicorn."""

from __future__ import annotations

import socket
import sys
import warnings

from ..errors import EmbspaceError
from ._app import EXTRA_HINT, create_app
from ._served import ServedSpace

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on `host`:`port` (port 0: any free port); an EmbspaceError if taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise EmbspaceError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another with --port (0 picks a free one)"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve(
    paths, host: str = "127.0.0.1", port: int = 8765, extra_hosts=(), echo=print, log_level: str = "warning"
) -> None:
    """Serve the explorer on `paths` (``.space`` folders) until interrupted.

    Binds `host` (loopback by default; any other address warns, since the explorer has no
    login) and prints the URL with `echo`. `port` 0 picks a free port.
    """
    try:
        import uvicorn
    except ImportError:
        raise EmbspaceError(f"the explorer needs starlette and uvicorn; run: {EXTRA_HINT}") from None
    if host not in LOOPBACK:
        warnings.warn(
            f"serving on {host}: anyone who can reach this address can read the served spaces "
            f"(the explorer has no login); use the default 127.0.0.1 unless you mean it",
            stacklevel=2,
        )
    spaces = [ServedSpace(p, i) for i, p in enumerate(paths)]  # bad folders fail before the port is taken
    sock = bind(host, port)
    port = sock.getsockname()[1]
    try:
        app = create_app(spaces, host, port, extra_hosts)
        config = uvicorn.Config(
            app,
            log_level=log_level,
            lifespan="off",
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=2,
            # a request head up to 2 MiB reaches the app, which answers 414 past MAX_URL; beyond that
            # uvicorn answers 400 and closes (at its default, 16 KiB, a 1 MB URL got that, seen as a reset)
            h11_max_incomplete_event_size=2 * 1024 * 1024,
        )
        server = uvicorn.Server(config)
        echo(f"embspace explorer on {url_of(host, port)}  (Ctrl+C to stop)")
        sys.stdout.flush()
        server.run(sockets=[sock])
    finally:
        sock.close()
