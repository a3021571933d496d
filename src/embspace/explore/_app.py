"""The explorer's Starlette app: the page, its static files (a fixed list read at start-up; no URL
is ever mapped to a path on disk) and the API: JSON for every view, Float32 arrays for points."""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path

import numpy as np

from .._install import install_hint
from ..errors import EmbspaceError, UnknownIdError
from . import _users, _views
from ._guard import Guard, allowed_hosts
from ._jobs import Jobs
from ._served import ServedSpace

EXTRA_HINT = install_hint("explore")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


def static_files() -> dict[str, tuple[bytes, str]]:
    """Every regular file of the package's static folder: URL name -> (bytes, content type).

    Read once; symbolic links are skipped, so nothing outside the folder can be served.
    """
    root = resources.files("embspace.explore") / "static"
    files: dict[str, tuple[bytes, str]] = {}

    def walk(folder, prefix: str) -> None:
        for entry in folder.iterdir():
            if isinstance(entry, Path) and entry.is_symlink():
                continue
            name = prefix + entry.name
            if entry.is_dir():
                walk(entry, name + "/")
            elif entry.is_file():
                suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
                files[name] = (entry.read_bytes(), CONTENT_TYPES.get(suffix, "text/plain; charset=utf-8"))

    walk(root, "")
    return files


class _NotFound(EmbspaceError):
    pass


def _maps_of(s: ServedSpace) -> list[dict]:
    from ..reduce import list_maps

    keep = ("key", "method", "dims", "n", "sample", "sampling", "seed", "params", "trust", "seconds", "created")
    return [{k: m.get(k) for k in keep} for m in list_maps(s.path)]


def _json_view(handler):
    """Run `handler` (sync in a worker thread, async on the loop) and answer its dict as JSON."""
    import functools
    import inspect

    def answer(result):
        return _json(200, result)

    def fail(exc: Exception):
        if isinstance(exc, UnknownIdError):
            return _json(404, {"error": str(exc), "suggestions": exc.suggestions})
        if isinstance(exc, _NotFound) or (isinstance(exc, EmbspaceError) and "has no map" in str(exc)):
            return _json(404, {"error": str(exc)})
        return _json(400, {"error": str(exc)})

    if inspect.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def run_async(self, request):
            try:
                return answer(await handler(self, request))
            except EmbspaceError as exc:
                return fail(exc)

        return run_async

    @functools.wraps(handler)
    def run(self, request):
        try:
            return answer(handler(self, request))
        except EmbspaceError as exc:
            return fail(exc)

    return run


def _clean(value):
    """JSON-ready: non-finite floats become null, numpy scalars plain numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        return _clean(value.item())
    return value


def _json(status: int, value) -> object:
    """JSON with <, > and & escaped, so no browser can take a response for HTML."""
    from starlette.responses import Response

    text = json.dumps(_clean(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Response(
        text.encode(), status_code=status, media_type="application/json", headers={"cache-control": "no-store"}
    )


def _error(status: int, message: str):
    return _json(status, {"error": message})


def _register_num() -> None:
    """A path number of at most 18 digits (``{i:num}``): starlette's ``int`` matches any length and its int()
    fails past Python's 4,300 digits with a 500; a longer number here is simply no route (404)."""
    from starlette.convertors import CONVERTOR_TYPES, IntegerConvertor, register_url_convertor

    class Num(IntegerConvertor):
        regex = "[0-9]{1,18}"

    if "num" not in CONVERTOR_TYPES:
        register_url_convertor("num", Num())


def create_app(paths, host: str = "127.0.0.1", port: int = 8765, extra_hosts=()):
    """The explorer as an ASGI app serving the space folders `paths`.

    Parameters
    ----------
    paths : sequence of paths to ``.space`` folders (or of opened `ServedSpace`)
        Each is opened once (vectors memory-mapped) and numbered in order: ``/api/space/0/...``.
    host, port : the address the server is bound to
        Requests must carry it (or localhost / 127.0.0.1 with that port) as their Host header.
    extra_hosts : more host names to accept (for a server bound to another interface).

    Returns
    -------
    starlette.applications.Starlette wrapped in the guard (see `embspace.explore._guard`).
    """
    try:
        from starlette.applications import Starlette
        from starlette.routing import Route
    except ImportError:
        raise EmbspaceError(f"the explorer needs starlette and uvicorn; run: {EXTRA_HINT}") from None
    _register_num()
    if not paths:
        raise EmbspaceError("give at least one space to serve")
    spaces = [p if isinstance(p, ServedSpace) else ServedSpace(p, i) for i, p in enumerate(paths)]
    api = _Api(spaces, static_files())
    routes = [Route(path, endpoint, methods=methods) for path, endpoint, methods in api.routes()]
    app = Starlette(routes=routes, exception_handlers={404: api.not_found, 405: api.not_allowed})
    app.state.explorer = api
    app.router.redirect_slashes = False  # /api/jobs/ is no route (a JSON 404), not a redirect elsewhere
    return Guard(app, allowed_hosts(host, port, list(extra_hosts)))


class _Api:
    """The handlers; each JSON view answers EmbspaceError with 400 and an unknown id with 404."""

    def __init__(self, spaces: list[ServedSpace], static: dict[str, tuple[bytes, str]]):
        self.spaces = spaces
        self.static = static
        self.jobs = Jobs()
        self.comparisons = _views.Comparisons()

    def routes(self):
        g, p = ["GET", "HEAD"], ["POST"]
        return [
            ("/", self.index, g),
            ("/static/{name:path}", self.static_file, g),
            ("/api/spaces", self.list_spaces, g),
            ("/api/space/{i:num}", self.one_space, g),
            ("/api/space/{i:num}/ids", self.ids, g),
            ("/api/space/{i:num}/titles", self.titles, g),
            ("/api/space/{i:num}/users", self.users, g),
            ("/api/space/{i:num}/user", self.user, g),
            ("/api/space/{i:num}/columns", self.columns, g),
            ("/api/space/{i:num}/maps", self.maps, g),
            ("/api/space/{i:num}/maps", self.make_map, p),
            ("/api/space/{i:num}/map/{key}", self.map_info, g),
            ("/api/space/{i:num}/map/{key}/coords", self.map_coords, g),
            ("/api/space/{i:num}/map/{key}/rows", self.map_rows, g),
            ("/api/space/{i:num}/map/{key}/trust", self.map_trust, g),
            ("/api/space/{i:num}/map/{key}/colors", self.map_colors, g),
            ("/api/space/{i:num}/map/{key}/colors.f32", self.map_colors_binary, g),
            ("/api/space/{i:num}/point/{row:num}", self.point, g),
            ("/api/space/{i:num}/thumbs/tiles", self.thumb_tiles, g),
            ("/api/space/{i:num}/thumbs/{page:num}.png", self.thumb_page, g),
            ("/api/space/{i:num}/neighbors", self.neighbors, g),
            ("/api/space/{i:num}/search", self.search, g),
            ("/api/space/{i:num}/analogy", self.analogy, g),
            ("/api/space/{i:num}/partners", self.partners, g),
            ("/api/compare", self.compare, g),
            ("/api/jobs", self.list_jobs, g),
            ("/api/jobs/{job:num}", self.job, g),
        ]

    # ---- page and static files ------------------------------------------------------------------------
    def index(self, request):
        return self._file("index.html")

    def static_file(self, request):
        return self._file(request.path_params["name"])

    def _file(self, name: str):
        from starlette.responses import Response

        if name not in self.static:
            return _error(404, "not found")
        body, kind = self.static[name]
        return Response(body, media_type=kind, headers={"cache-control": "no-cache"})

    async def not_found(self, request, exc):
        return _error(404, "not found")

    async def not_allowed(self, request, exc):
        return _error(405, "method not allowed")

    # ---- spaces ---------------------------------------------------------------------------------------
    def _space(self, request) -> ServedSpace:
        i = request.path_params["i"]
        if not 0 <= i < len(self.spaces):
            raise _NotFound(f"no space {i}; this explorer serves {len(self.spaces)} (0 to {len(self.spaces) - 1})")
        return self.spaces[i]

    @staticmethod
    def _map_key(s: ServedSpace, request, required: bool = True) -> str | None:
        key = request.path_params.get("key") or request.query_params.get("map")
        if not key:
            if required:
                raise EmbspaceError("give a map (map=KEY)")
            return None
        s.map_view(key)  # checks the key and that the map exists
        return key

    @_json_view
    def list_spaces(self, request):
        return {"spaces": [s.summary() for s in self.spaces]}

    @_json_view
    def one_space(self, request):
        s = self._space(request)
        return dict(s.summary(), maps=_maps_of(s))

    def ids(self, request):
        from starlette.responses import Response

        try:
            s = self._space(request)
        except _NotFound as exc:
            return _error(404, str(exc))
        gz = "gzip" in request.headers.get("accept-encoding", "")
        headers = {"vary": "Accept-Encoding", "cache-control": "no-cache"}
        if gz:
            headers["content-encoding"] = "gzip"
        return Response(s.ids_json(gz), media_type="application/json", headers=headers)

    def titles(self, request):
        """The titles of a space with a "title" column, as one JSON list aligned with the ids."""
        from starlette.responses import Response

        try:
            body = self._space(request).titles_json()
        except EmbspaceError as exc:
            return _error(404, str(exc))
        return Response(body, media_type="application/json", headers={"cache-control": "no-cache"})

    @_json_view
    def users(self, request):
        """Users of a space of items whose id matches q (exact, then prefix, then inside)."""
        q = request.query_params
        limit = _views.parse_int(q.get("limit"), "limit", 20, 1, _users.MAX_USERS)
        return _users.find_users(self._space(request), q.get("q", ""), limit)

    @_json_view
    def user(self, request):
        """One user's history and recommendations (k, at most 100), placed on map `map`."""
        s = self._space(request)
        q = request.query_params
        k = _views.parse_int(q.get("k"), "k", 20, 1, _users.MAX_RECOMMENDED)
        return _users.user_view(s, q.get("id", ""), k, self._map_key(s, request, required=False))

    @_json_view
    def columns(self, request):
        return {"columns": self._space(request).columns()}

    @_json_view
    def maps(self, request):
        s = self._space(request)
        return {
            "maps": _maps_of(s),
            "methods": ["pca", "tsne", "umap"],
            "dims": [2, 3],
            "jobs": [j.as_dict() for j in self.jobs.all() if j.space == s.index],
        }

    @_json_view
    async def make_map(self, request):
        s = self._space(request)
        try:
            body = await request.json()
        except (ValueError, RecursionError) as exc:  # bad JSON or UTF-8, a 5,000-digit number, nesting too deep
            reason = "nested too deep" if isinstance(exc, RecursionError) else str(exc).splitlines()[0][:120]
            raise EmbspaceError(f"the body is not valid JSON ({reason})") from None
        if not isinstance(body, dict):
            raise EmbspaceError("send a JSON object {method, dims, sample, seed, params, point_trust}")
        method = body.get("method", "pca")
        dims = _views.parse_int(body.get("dims"), "dims", 2, 2, 3)
        sample = body.get("sample")
        sample = None if sample in (None, "", 0) else _views.parse_int(sample, "sample", 0, 1, s.space.n)
        seed = _views.parse_int(body.get("seed"), "seed", 0, 0, 2**31 - 1)
        params = body.get("params") or {}
        if not isinstance(params, dict):
            raise EmbspaceError('params must be a JSON object, e.g. {"perplexity": 50}')
        job = self.jobs.submit(s, method, dims, sample, seed, params, str(body.get("point_trust", "auto")))
        return job.as_dict()

    @_json_view
    def map_info(self, request):
        s = self._space(request)
        view = s.map_view(self._map_key(s, request))
        return dict(view.map.info(), cached=True, on_map=int(view.map.n))

    def _binary(self, request, make):
        from starlette.responses import Response

        try:
            s = self._space(request)
            array, shape = make(s, self._map_key(s, request))
        except _NotFound as exc:
            return _error(404, str(exc))
        except EmbspaceError as exc:
            return _error(404 if "has no map" in str(exc) else 400, str(exc))
        body = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        return Response(
            body,
            media_type="application/octet-stream",
            headers={
                "x-embspace-shape": ",".join(str(d) for d in shape),
                "x-embspace-dtype": array.dtype.name,
                "cache-control": "no-cache",
            },
        )

    def map_coords(self, request):
        """float32 (n, dims), row-major, scaled into [-1, 1] with one scale for all axes."""

        def make(s, key):
            scaled = s.map_view(key).scaled
            return scaled, scaled.shape

        return self._binary(request, make)

    def map_rows(self, request):
        """int32 (n,): the space row of each map point."""

        def make(s, key):
            rows = s.map_view(key).map.rows.astype(np.int32)
            return rows, rows.shape

        return self._binary(request, make)

    def map_trust(self, request):
        """float32 (n,): each point's recall of its 10 space neighbours on the map (NaN: not measured)."""

        def make(s, key):
            trust = np.asarray(s.map_view(key).map.point_trust, dtype=np.float32)
            return trust, trust.shape

        return self._binary(request, make)

    def map_colors_binary(self, request):
        """float32 (n,): colour code of each map point by column (-1: other or missing)."""

        def make(s, key):
            codes, _ = s.colour_codes(key, request.query_params.get("column", ""))
            return codes, codes.shape

        return self._binary(request, make)

    @_json_view
    def map_colors(self, request):
        s = self._space(request)
        _, legend = s.colour_codes(self._map_key(s, request), request.query_params.get("column", ""))
        return legend

    def thumb_tiles(self, request):
        """int32 (n,): the thumbnail tile of each space row (-1: none); 404 for a space without thumbnails."""
        from starlette.responses import Response

        try:
            tiles = self._space(request).thumbnail_tiles()
        except EmbspaceError as exc:
            return _error(404, str(exc))
        return Response(
            tiles.astype("<i4", copy=False).tobytes(),
            media_type="application/octet-stream",
            headers={"x-embspace-shape": str(len(tiles)), "x-embspace-dtype": "int32", "cache-control": "no-cache"},
        )

    def thumb_page(self, request):
        """A sprite page of thumbnails (PNG): only the pages the space's layout lists, nothing else of
        the folder. Kept by the browser and revalidated by its sha256 (ETag): the same URL names
        another space's page once the explorer is started on other spaces."""
        from starlette.responses import Response

        try:
            body, digest = self._space(request).thumbnail_page(request.path_params["page"])
        except EmbspaceError as exc:
            return _error(404, str(exc))
        etag = f'"{digest}"'
        headers = {"etag": etag, "cache-control": "private, no-cache"}
        if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="image/png", headers=headers)

    @_json_view
    def point(self, request):
        s = self._space(request)
        row = s.row_of(row=request.path_params["row"])
        key = self._map_key(s, request, required=False)
        return dict(s.point(row), map_index=s.map_position(key, row))

    @_json_view
    def neighbors(self, request):
        s = self._space(request)
        q = request.query_params
        row = s.row_of(q.get("id"), q.get("row"))
        k = _views.parse_int(q.get("k"), "k", 10, 1, _views.MAX_K)
        return _views.neighbors(s, row, k, self._map_key(s, request, required=False))

    @_json_view
    def search(self, request):
        s = self._space(request)
        q = request.query_params
        limit = _views.parse_int(q.get("limit"), "limit", 50, 1, _views.MAX_RESULTS)
        return _views.search(
            s, q.get("q", ""), q.get("mode", "exact"), limit, self._map_key(s, request, required=False)
        )

    @_json_view
    def analogy(self, request):
        s = self._space(request)
        q = request.query_params
        k = _views.parse_int(q.get("k"), "k", 10, 1, _views.MAX_K)
        words = [q.get(name, "") for name in ("a", "b", "c")]
        if not all(words):
            raise EmbspaceError("give three ids: a, b and c (a is to b as c is to ?)")
        return _views.analogy(
            s, *words, k=k, method=q.get("method", "3cosadd"), key=self._map_key(s, request, required=False)
        )

    @_json_view
    def partners(self, request):
        """The spaces the page offers to compare with space i: the ones sharing more than k ids."""
        s = self._space(request)
        k = _views.parse_int(request.query_params.get("k"), "k", 10, 1, 100)
        return self.comparisons.partners(s, self.spaces, k)

    @_json_view
    def compare(self, request):
        q = request.query_params
        n = len(self.spaces)
        a = _views.parse_int(q.get("a"), "a", 0, 0, n - 1)
        b = _views.parse_int(q.get("b"), "b", 1 if n > 1 else 0, 0, n - 1)
        if a == b:
            raise EmbspaceError("compare two different spaces: serve two or more (embspace serve A.space B.space)")
        k = _views.parse_int(q.get("k"), "k", 10, 1, 100)
        sample = _views.parse_int(q.get("sample"), "sample", 2000, 10, 50_000)
        worst = _views.parse_int(q.get("worst"), "worst", 50, 1, 500)
        return self.comparisons.compare(self.spaces[a], self.spaces[b], k, sample, worst)

    @_json_view
    def list_jobs(self, request):
        return {"jobs": [j.as_dict() for j in self.jobs.all()]}

    @_json_view
    def job(self, request):
        try:
            return self.jobs.get(request.path_params["job"]).as_dict()
        except EmbspaceError as exc:
            raise _NotFound(str(exc)) from None
