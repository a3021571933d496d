"""The explorer's guard, in front of every request: Host check (against DNS rebinding), no dot
segments in paths, same-origin JSON for requests that change anything, and the security headers
(Content-Security-Policy, nosniff...) on every response, errors included."""

from __future__ import annotations

from urllib.parse import unquote

# regl compiles its draw commands with Function(...), so 'unsafe-eval' is needed for WebGL maps
# (regl-project/regl#491); inline script stays forbidden, and no worker, frame or plugin may load.
CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
MAX_URL = 16 * 1024  # bytes of path and query string; the longest the page sends is a regex of 200 characters
MAX_BODY = 64 * 1024  # bytes of a request body; the only one the API reads is a map request of a few hundred


def allowed_hosts(host: str, port: int, extra: list[str] | tuple[str, ...] = ()) -> set[str]:
    """Host header values accepted for a server bound to `host`:`port`: the bound address,
    localhost and the loopback addresses, each with the port, plus `extra` names."""
    names = {host, "localhost", "127.0.0.1", "[::1]", *extra}
    if ":" in host and not host.startswith("["):
        names.add(f"[{host}]")
    return {f"{name}:{port}".lower() for name in names if name not in ("0.0.0.0", "::", "[::]")}


class Guard:
    """ASGI middleware: see the module docstring. `hosts` are the accepted Host values."""

    def __init__(self, app, hosts: set[str]):
        self.app = app
        self.hosts = {h.lower() for h in hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            if scope["type"] == "websocket":  # none are served
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        problem = self._problem(scope, headers)
        if problem is None and scope["method"] not in SAFE_METHODS:
            problem, receive = await _read_body(receive)
        if problem:
            status, text = problem
            await _plain(send, status, text)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message = dict(message, headers=list(message.get("headers", [])) + extra)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _problem(self, scope, headers: dict[str, str]) -> tuple[int, str] | None:
        if headers.get("host", "").lower() not in self.hosts:
            return 400, "bad Host header: this explorer answers only to the address it was started on"
        url = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
        if url > MAX_URL:
            return 414, f"the URL is {url:,} bytes long; at most {MAX_URL:,} are accepted"
        length = headers.get("content-length", "0")
        if not (length.isdigit() and len(length) < 20):
            return 400, "bad Content-Length header"
        if int(length) > MAX_BODY:
            return 413, f"the body is {int(length):,} bytes long; at most {MAX_BODY:,} are accepted"
        raw = scope.get("raw_path") or scope["path"].encode()
        path = unquote(unquote(raw.decode("latin-1")))  # twice: %252e%252e is refused too
        if "\\" in path or "\x00" in path or any(seg in (".", "..") for seg in path.split("/")):
            return 404, "not found"
        # another site's page may not make the browser call the API (a regex search or a map job
        # costs CPU); browsers say where a request comes from in Sec-Fetch-Site
        if path.startswith("/api/") and headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return 403, "cross-site request refused"
        if scope["method"] not in SAFE_METHODS:
            origin = headers.get("origin")
            if origin is not None and origin.lower() != f"http://{headers['host'].lower()}":
                return 403, "cross-origin request refused"
            if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
                return 403, "cross-site request refused"
            if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
                return 415, "send JSON (Content-Type: application/json)"
        return None


async def _read_body(receive):
    """Read a request body of at most MAX_BODY bytes: (None, a receive that replays it), or a 413
    problem when more arrives (a chunked body declares no length)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away; nobody reads the answer
            return (400, "the request ended before its body"), receive
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > MAX_BODY:
            return (413, f"the body is over {MAX_BODY:,} bytes long; at most {MAX_BODY:,} are accepted"), receive
        if not message.get("more_body", False):
            break
    replayed = False

    async def replay():
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

    return None, replay


async def _plain(send, status: int, text: str) -> None:
    body = (text + "\n").encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
