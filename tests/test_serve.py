"""The explorer's server: every JSON and binary view, the map jobs, and its security (Host check,
no path outside the served data, CSP on every response, hostile ids returned as data)."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import embspace
from conftest import XSS

pytest.importorskip("starlette")
pytest.importorskip("sklearn")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

import warnings  # noqa: E402

from click.testing import CliRunner  # noqa: E402

with warnings.catch_warnings():  # starlette >= 0.48 prefers httpx2 for its test client; httpx still works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from embspace.cli import main  # noqa: E402
from embspace.explore import create_app  # noqa: E402
from embspace.reduce import get_or_make_map, list_maps, load_map  # noqa: E402

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"


@pytest.fixture(scope="module")
def spaces(tmp_path_factory):
    """Two small spaces that share most ids (the second is the first with noise), with PCA maps."""
    folder = tmp_path_factory.mktemp("served")
    rng = np.random.default_rng(0)
    n = 400
    ids = [f"w{i}" for i in range(n)]
    ids[: len(XSS)] = XSS
    vectors = rng.normal(size=(n, 16)).astype(np.float32)
    meta = {
        "pos": [("noun", "verb", "<b>adj</b>")[i % 3] for i in range(n)],
        "count": [float(n - i) if i % 10 else None for i in range(n)],
    }
    a = embspace.save(
        embspace.Space(ids, vectors, meta=meta, info={"name": "<i>first</i>", "order": "frequency"}), folder / "a.space"
    )
    noisy = vectors + rng.normal(scale=0.5, size=vectors.shape).astype(np.float32)
    b = embspace.save(embspace.Space(ids[:300], noisy[:300], info={"name": "second"}), folder / "b.space")
    for path in (a, b):
        get_or_make_map(path, "pca", 2, point_trust="all")
    get_or_make_map(a, "pca", 3, sample=200)
    return a, b


@pytest.fixture(scope="module")
def client(spaces):
    app = create_app(list(spaces), "127.0.0.1", PORT)
    with TestClient(app, base_url=BASE) as c:
        yield c


def test_spaces_maps_and_points(client, spaces):
    out = client.get("/api/spaces").json()["spaces"]
    assert [s["name"] for s in out] == ["<i>first</i>", "second"] and out[0]["n"] == 400 and out[0]["dim"] == 16
    assert {c["name"] for c in out[0]["columns"]} == {"pos", "count", ":row", ":norm", ":trust"}
    assert "path" not in json.dumps(out)  # the page is never told where the folders are
    maps = client.get("/api/space/0/maps").json()["maps"]
    assert {m["key"] for m in maps} == {"pca-2d-n400-s0", "pca-3d-n200-s0"}
    assert client.get("/api/space/0").json()["maps"] == maps
    info = client.get("/api/space/0/map/pca-2d-n400-s0").json()
    assert info["method"] == "pca" and info["dims"] == 2 and 0 < info["trust"]["trustworthiness"] <= 1
    point = client.get("/api/space/0/point/3?map=pca-2d-n400-s0").json()
    assert point["id"] == XSS[3] and point["meta"] == {"pos": "noun", "count": 397.0} and point["map_index"] == 3
    assert client.get("/api/space/0/point/400").status_code == 400
    assert client.get("/api/space/7/maps").status_code == 404
    assert client.get("/api/space/0/map/umap-2d-n400-s0").status_code == 404
    assert client.get("/api/space/0/map/Not-A-Key").status_code == 400


def test_points_travel_as_float32(client, spaces):
    m = load_map(spaces[0], "pca-3d-n200-s0")
    r = client.get("/api/space/0/map/pca-3d-n200-s0/coords")
    assert r.headers["content-type"] == "application/octet-stream" and r.headers["x-embspace-shape"] == "200,3"
    coords = np.frombuffer(r.content, dtype="<f4").reshape(200, 3)
    assert np.abs(coords).max() <= 1.0 and np.abs(coords).max() > 0.9
    # one scale for every axis: the picture is the map's, moved and scaled
    centred = m.coords - (m.coords.max(0) + m.coords.min(0)) / 2
    scale = np.abs(centred).max() / np.abs(coords).max()
    np.testing.assert_allclose(coords * scale, centred, atol=1e-4 * scale)
    rows = np.frombuffer(client.get("/api/space/0/map/pca-3d-n200-s0/rows").content, dtype="<i4")
    assert np.array_equal(rows, m.rows)
    trust = np.frombuffer(client.get("/api/space/0/map/pca-2d-n400-s0/trust").content, dtype="<f4")
    assert trust.shape == (400,) and np.isfinite(trust).all()
    plain = client.get("/api/space/0/ids", headers={"accept-encoding": "identity"})
    assert json.loads(plain.content)[: len(XSS)] == XSS and "content-encoding" not in plain.headers
    raw = client.get("/api/space/0/ids", headers={"accept-encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip" and raw.json() == json.loads(plain.content)


def test_colours_by_column_trust_and_derived(client):
    url = "/api/space/0/map/pca-2d-n400-s0/colors"
    legend = client.get(url, params={"column": "pos"}).json()
    assert legend["kind"] == "categorical" and sorted(legend["labels"]) == ["<b>adj</b>", "noun", "verb"]
    codes = np.frombuffer(client.get(url + ".f32", params={"column": "pos"}).content, dtype="<f4")
    assert codes.shape == (400,) and set(np.unique(codes)) == {0.0, 1.0, 2.0}
    counts = client.get(url, params={"column": "count"}).json()
    assert counts["kind"] == "numeric" and counts["other"] == 40 and sum(counts["counts"]) == 360
    codes = np.frombuffer(client.get(url + ".f32", params={"column": "count"}).content, dtype="<f4")
    assert (codes[::10] == -1).all() and codes.max() == len(counts["labels"]) - 1
    trust = client.get(url, params={"column": ":trust"}).json()
    assert trust["scale"] == "trust" and len(trust["labels"]) == 11 and trust["other"] == 0
    for column in (":row", ":norm"):
        assert client.get(url, params={"column": column}).json()["kind"] == "numeric"
    bad = client.get(url, params={"column": "nope"})
    assert bad.status_code == 400 and "pos" in bad.json()["error"]


def test_row_number_is_offered_only_where_it_is_a_frequency_rank(client):
    # the first space is frequency-ordered (a word space); the second says nothing of its order
    first, second = (client.get(f"/api/space/{i}/columns").json()["columns"] for i in (0, 1))
    assert {"name": ":row", "label": "row number (frequency rank)", "derived": True} in first
    assert ":row" not in {c["name"] for c in second} and ":norm" in {c["name"] for c in second}
    refused = client.get("/api/space/1/map/pca-2d-n300-s0/colors", params={"column": ":row"})
    assert refused.status_code == 400 and "unknown column" in refused.json()["error"]


def test_neighbours_are_exact_and_say_where_the_map_puts_them(client, spaces):
    space = embspace.load(spaces[0])
    out = client.get("/api/space/0/neighbors", params={"id": "w50", "k": 7, "map": "pca-2d-n400-s0"}).json()
    expected = space.neighbors("w50", k=7)
    assert [n["id"] for n in out["neighbors"]] == [n.id for n in expected]
    np.testing.assert_allclose([n["score"] for n in out["neighbors"]], [n.score for n in expected], rtol=1e-5)
    m = load_map(spaces[0], "pca-2d-n400-s0")
    d = ((m.coords - m.coords[50]) ** 2).sum(1)
    d[50] = np.inf
    map_order = list(np.argsort(d, kind="stable"))
    for n in out["neighbors"]:
        assert n["map_rank"] == map_order.index(n["row"]) + 1
        assert n["near_on_map"] == (n["map_rank"] <= 7)
    assert out["kept_on_map"] == np.mean([n["near_on_map"] for n in out["neighbors"]])
    by_row = client.get("/api/space/0/neighbors", params={"row": 50, "k": 7}).json()
    assert [n["id"] for n in by_row["neighbors"]] == [n.id for n in expected]
    assert by_row["neighbors"][0]["map_rank"] is None  # no map asked for
    off_map = client.get("/api/space/0/neighbors", params={"id": "w300", "map": "pca-3d-n200-s0"}).json()
    assert off_map["query"]["map_index"] is None and all(n["near_on_map"] is None for n in off_map["neighbors"])
    missing = client.get("/api/space/0/neighbors", params={"id": "w9999"})
    assert missing.status_code == 404 and "not in the space" in missing.json()["error"]
    assert client.get("/api/space/0/neighbors", params={"id": "w20", "k": 0}).status_code == 400
    assert client.get("/api/space/0/neighbors").status_code == 400


def test_search_modes(client):
    exact = client.get("/api/space/0/search", params={"q": "w42", "map": "pca-2d-n400-s0"}).json()
    assert exact["results"] == [{"id": "w42", "row": 42, "map_index": 42}]
    miss = client.get("/api/space/0/search", params={"q": "w4x"}).json()
    assert miss["total"] == 0 and miss["results"] == []
    prefix = client.get("/api/space/0/search", params={"q": "w1", "mode": "prefix", "limit": 5}).json()
    assert prefix["total"] == 110 and [r["id"] for r in prefix["results"]] == ["w10", "w11", "w12", "w13", "w14"]
    regex = client.get("/api/space/0/search", params={"q": "^w3[0-9]{2}$", "mode": "regex"}).json()
    assert regex["total"] == 100
    hostile = client.get("/api/space/0/search", params={"q": "[<>]", "mode": "regex"}).json()
    assert [r["id"] for r in hostile["results"]] == [XSS[0], XSS[1], XSS[3]]
    assert client.get("/api/space/0/search", params={"q": "(", "mode": "regex"}).status_code == 400
    assert client.get("/api/space/0/search", params={"q": "x", "mode": "fuzzy"}).status_code == 400
    assert client.get("/api/space/0/search", params={"q": "a" * 300, "mode": "regex"}).status_code == 400


def test_analogy_and_compare(client, spaces):
    space = embspace.load(spaces[0])
    out = client.get(
        "/api/space/0/analogy", params={"a": "w10", "b": "w11", "c": "w12", "k": 3, "map": "pca-2d-n400-s0"}
    ).json()
    assert [a["id"] for a in out["answers"]] == [n.id for n in space.analogy("w10", "w11", "w12", k=3)]
    assert out["a"]["map_index"] == 10
    assert client.get("/api/space/0/analogy", params={"a": "w10", "b": "w11"}).status_code == 400
    assert client.get("/api/space/0/analogy", params={"a": "w10", "b": "w11", "c": "zz"}).status_code == 404
    cmp = client.get("/api/compare", params={"a": 0, "b": 1, "k": 5, "sample": 100, "worst": 5}).json()
    assert cmp["shared"] == 300 and cmp["compared"] == 100 and len(cmp["most_different"]) == 5
    worst = cmp["most_different"][0]
    assert worst["row_a"] == space.index(worst["id"]) and 0 <= worst["overlap"] <= cmp["mean"]
    assert client.get("/api/compare", params={"a": 0, "b": 0}).status_code == 400


def test_compare_offers_the_spaces_that_share_ids_most_first(spaces, tmp_path):
    rng = np.random.default_rng(3)
    alone = embspace.Space([f"x{i}" for i in range(50)], rng.normal(size=(50, 16)), info={"name": "alone"})
    app = create_app([*spaces, embspace.save(alone, tmp_path / "alone.space")], "127.0.0.1", PORT)
    with TestClient(app, base_url=BASE) as c:
        first = c.get("/api/space/0/partners").json()
        assert first["k"] == 10
        assert [(o["index"], o["name"], o["shared"], o["comparable"]) for o in first["spaces"]] == [
            (1, "second", 300, True),
            (2, "alone", 0, False),
        ]
        assert [o["shared"] for o in c.get("/api/space/1/partners").json()["spaces"]] == [300, 0]
        assert not any(o["comparable"] for o in c.get("/api/space/2/partners").json()["spaces"])
        assert c.get("/api/space/0/partners", params={"k": 500}).status_code == 400
        refused = c.get("/api/compare", params={"a": 0, "b": 2})
        assert refused.status_code == 400 and "share 0 ids" in refused.json()["error"]
        assert c.get("/api/space/9/partners").status_code == 404


def test_maps_drawn_from_the_page(client):
    job = client.post("/api/space/1/maps", json={"method": "pca", "dims": 3, "sample": 100, "seed": 1})
    assert job.status_code == 200 and job.json()["key"] == "pca-3d-n100-s1"
    for _ in range(200):
        state = client.get(f"/api/jobs/{job.json()['id']}").json()
        if state["state"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert state["state"] == "done" and state["fraction"] == 1.0
    assert "pca-3d-n100-s1" in {m["key"] for m in client.get("/api/space/1/maps").json()["maps"]}
    bad = client.post("/api/space/1/maps", json={"method": "nope"})
    assert bad.status_code == 400 and "pca" in bad.json()["error"]
    assert client.post("/api/space/1/maps", json={"method": "pca", "sample": 5}).status_code == 400
    assert client.get("/api/jobs/999").status_code == 404
    # changes only from the page itself: JSON (no form posts) and no other origin
    form = client.post("/api/space/1/maps", data={"method": "pca"})
    assert form.status_code == 415
    other = client.post("/api/space/1/maps", json={"method": "pca"}, headers={"origin": "http://evil.example"})
    assert other.status_code == 403
    site = client.post("/api/space/1/maps", json={"method": "pca"}, headers={"sec-fetch-site": "cross-site"})
    assert site.status_code == 403


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_other_sites_cannot_call_the_api(client, site):
    # e.g. <img src="http://127.0.0.1:8765/api/space/0/search?q=...&mode=regex"> on another site
    r = client.get("/api/space/0/search", params={"q": "w1", "mode": "regex"}, headers={"sec-fetch-site": site})
    assert r.status_code == 403
    assert client.get("/", headers={"sec-fetch-site": site, "sec-fetch-mode": "navigate"}).status_code == 200
    assert client.get("/api/spaces", headers={"sec-fetch-site": "same-origin"}).status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8765", "127.0.0.1", "127.0.0.1:9999", "localhost.evil.example:8765", ""]
)
def test_a_foreign_host_gets_400(client, host):
    r = client.get("/api/spaces", headers={"host": host})
    assert r.status_code == 400 and "Host" in r.text
    assert "content-security-policy" in r.headers


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "LOCALHOST:8765", "[::1]:8765"])
def test_loopback_hosts_are_served(client, host):
    assert client.get("/api/spaces", headers={"host": host}).status_code == 200


def _raw_get(app, raw_path: bytes, host: str = f"127.0.0.1:{PORT}") -> tuple[int, bytes]:
    """Send a request with this exact path (httpx would normalise the dot segments away)."""
    from urllib.parse import unquote

    path, _, query = raw_path.partition(b"?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(path.decode("latin-1")),
        "raw_path": path,
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", host.encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", PORT),
    }
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = sent[0]["status"]
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


@pytest.fixture(scope="module")
def booby_trapped(spaces, tmp_path_factory):
    """A served space whose folder holds symlinks to files and a map outside it."""
    outside = tmp_path_factory.mktemp("outside")
    secret = outside / "secret.txt"
    secret.write_text("TOP-SECRET root:x:0:0\n")
    folder = spaces[0].parent / "trap.space"
    embspace.save(embspace.load(spaces[0]), folder)
    get_or_make_map(folder, "pca", 2)
    # a valid map folder outside the space, linked in under a valid key
    import shutil

    shutil.copytree(folder / "maps" / "pca-2d-n400-s0", outside / "pca-3d-n400-s0")
    os.symlink(outside / "pca-3d-n400-s0", folder / "maps" / "pca-3d-n400-s0")
    os.symlink(secret, folder / "secret.txt")
    os.symlink(outside, folder / "maps" / "evil")
    os.symlink(secret, folder / "maps" / "pca-2d-n400-s0" / "secret.txt")
    return create_app([folder], "127.0.0.1", PORT), secret


TRAVERSALS = [
    b"/static/../../../../../../etc/passwd",
    b"/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    b"/static/%2E%2E%2F%2E%2E%2Fsecret.txt",
    b"/static/..%2F..%2F..%2Fsecret.txt",
    b"/static/%252e%252e/%252e%252e/secret.txt",
    b"/static//etc/passwd",
    b"/static/%2Fetc%2Fpasswd",
    b"/static/..\\..\\secret.txt",
    b"/static/vendor/../../_app.py",
    b"/static/_app.py",
    b"/static/../_served.py",
    b"/etc/passwd",
    b"/secret.txt",
    b"/api/space/0/../../secret.txt",
    b"/api/space/0/secret.txt",
    b"/api/space/0/map/evil",
    b"/api/space/0/map/evil/coords",
    b"/api/space/0/map/..%2F..%2Fsecret.txt/coords",
    b"/api/space/0/map/%2e%2e/coords",
    b"/api/space/0/map/pca-3d-n400-s0/coords",
    b"/api/space/0/map/pca-2d-n400-s0/secret.txt",
    b"/api/space/0/map/pca-2d-n400-s0/coords/../secret.txt",
    b"/api/space/0/colors?column=../../secret.txt",
]


@pytest.mark.parametrize("raw", TRAVERSALS, ids=[t.decode() for t in TRAVERSALS])
def test_no_path_outside_the_served_data_can_be_read(booby_trapped, raw):
    app, secret = booby_trapped
    status, body = _raw_get(app, raw)
    assert status in (400, 404), (status, body[:200])
    assert b"TOP-SECRET" not in body and b"root:" not in body and b"import " not in body


def test_symlinked_maps_are_neither_listed_nor_loaded(booby_trapped):
    app, _ = booby_trapped
    status, body = _raw_get(app, b"/api/space/0/maps")
    assert status == 200 and [m["key"] for m in json.loads(body)["maps"]] == ["pca-2d-n400-s0"]


def test_security_headers_on_every_response(client):
    for url in (
        "/",
        "/static/app.js",
        "/static/vendor/regl-scatterplot.min.js",
        "/api/spaces",
        "/api/nope",
        "/api/space/0/map/pca-2d-n400-s0/coords",
        "/static/missing.js",
    ):
        r = client.get(url)
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert "object-src" not in csp or "object-src 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
    assert client.get("/").headers["content-type"].startswith("text/html")
    assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")


def test_hostile_ids_come_back_as_escaped_data(client):
    r = client.get("/api/space/0/search", params={"q": "[<>&]", "mode": "regex"})
    assert r.headers["content-type"] == "application/json"
    assert b"<" not in r.content and b">" not in r.content and b"&" not in r.content.replace(b"\\u0026", b"")
    assert [x["id"] for x in r.json()["results"]] == [XSS[0], XSS[1], XSS[3], XSS[4]]
    point = client.get("/api/space/0/point/0").json()
    assert point["id"] == XSS[0] and point["meta"]["pos"] == "noun"
    assert client.get("/api/spaces").json()["spaces"][0]["name"] == "<i>first</i>"
    for gz in ("gzip", "identity"):
        ids = client.get("/api/space/0/ids", headers={"accept-encoding": gz})
        assert b"<" not in ids.content and b">" not in ids.content and ids.json()[: len(XSS)] == XSS


def test_the_page_runs_no_inline_script_and_sets_no_html():
    from embspace.explore._app import static_files

    files = static_files()
    page = files["index.html"][0].decode()
    assert page.count("<script") == 1 and '<script type="module" src="/static/app.js"></script>' in page
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", page, re.I) and "javascript:" not in page  # no inline handlers
    own = {
        name: body.decode()
        for name, (body, kind) in files.items()
        if name.endswith(".js") and not name.startswith("vendor/")
    }
    assert {"app.js", "pane.js", "plot2d.js", "plot3d.js", "overlay.js", "dom.js", "api.js"} <= set(own)
    for name, text in own.items():
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in text, (name, sink)
    vendor = {name for name in files if name.startswith("vendor/")}
    assert {
        "vendor/regl-scatterplot.min.js",
        "vendor/regl.min.js",
        "vendor/pub-sub-es.js",
        "vendor/three.module.min.js",
        "vendor/LICENSE.regl-scatterplot",
        "vendor/LICENSE.three",
    } <= vendor
    assert sum(len(files[n][0]) for n in vendor) < 3_000_000


def test_vectors_stay_memory_mapped(client):
    api = client.app.app.state.explorer
    client.get("/api/space/0/neighbors", params={"id": "w5", "k": 3})
    assert all(not s.space.vectors.flags.owndata for s in api.spaces)  # still the read-only maps of the files


def test_importing_the_explorer_loads_no_web_library():
    code = "import sys, embspace.explore, embspace.cli; print('starlette' in sys.modules or 'uvicorn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_missing_library_names_the_extra(spaces, monkeypatch):
    monkeypatch.setitem(sys.modules, "starlette.applications", None)
    with pytest.raises(embspace.EmbspaceError, match=r"pip install -e '.*\[explore\]'"):
        create_app(list(spaces))


def test_cli_serve_prints_its_url_and_warns_off_loopback(spaces, monkeypatch):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: calls.append(sockets[0].getsockname()))
    runner = CliRunner()
    out = runner.invoke(main, ["serve", str(spaces[0]), "--port", "0"])
    assert out.exit_code == 0, out.output
    port = calls[0][1]
    assert f"http://127.0.0.1:{port}/" in out.output and "warning" not in out.output
    out = runner.invoke(main, ["serve", str(spaces[0]), str(spaces[1]), "--host", "0.0.0.0", "--port", "0"])
    assert out.exit_code == 0 and "warning: serving on 0.0.0.0" in out.output and "http://0.0.0.0:" in out.output


def test_cli_serve_errors_are_one_line(spaces, tmp_path):
    import socket

    runner = CliRunner()
    out = runner.invoke(main, ["serve", str(tmp_path / "missing.space")])
    assert out.exit_code == 1 and "no such space" in out.output and len(out.output.strip().splitlines()) == 1
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        out = runner.invoke(main, ["serve", str(spaces[0]), "--port", str(busy.getsockname()[1])])
    finally:
        busy.close()
    assert out.exit_code == 1 and "--port" in out.output and len(out.output.strip().splitlines()) == 1
    assert "Examples:" in runner.invoke(main, ["serve", "--help"]).output


def test_ids_json_is_built_once(client):
    api = client.app.app.state.explorer
    first = api.spaces[0].ids_json(True)
    assert api.spaces[0].ids_json(True) is first and json.loads(gzip.decompress(first))[0] == XSS[0]


@pytest.mark.slow
def test_demo_ends_in_the_explorer(glove, tmp_path, monkeypatch):
    import uvicorn

    served = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: served.append(self.config.app))
    path = embspace.save(glove, tmp_path / "glove.space")
    args = ["demo", "--quick", "--space", str(path), "--map", "tsne", "--words", "1000", "--port", "0"]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    assert (
        "tsne-2d-n1000-s0: 1,000 words (drawn in" in out.output
        and "embspace explorer on http://127.0.0.1:" in out.output
    )
    assert len(served) == 1
    maps = {m["key"]: m for m in list_maps(path)}
    assert {"tsne-2d-n1000-s0", "pca-2d-n400000-s0", "pca-3d-n1000-s0"} <= set(maps)
    assert maps["tsne-2d-n1000-s0"]["trust"]["point_trust"] == "all"  # the page colours every point by it
    again = CliRunner().invoke(main, args)  # the maps are cached: the second run starts at once
    assert again.exit_code == 0 and "tsne-2d-n1000-s0: 1,000 words (cached)" in again.output
    finite = CliRunner().invoke(main, ["demo", "--no-serve", "--quick", "--space", str(path)])
    assert finite.exit_code == 0 and "explorer on" not in finite.output and len(served) == 2


@pytest.fixture(scope="module")
def long_ids(tmp_path_factory):
    """A space whose ids make backtracking regexes explode: 40 a's and a '!', 68 dashes."""
    ids = [f"{'a' * 40}!{i}" for i in range(20)] + [f"{'-' * 68}{i}" for i in range(20)] + ["plain"]
    vectors = np.random.default_rng(1).normal(size=(len(ids), 8)).astype(np.float32)
    path = embspace.save(embspace.Space(ids, vectors), tmp_path_factory.mktemp("long") / "long.space")
    with TestClient(create_app([path], "127.0.0.1", PORT), base_url=BASE) as c:
        yield c


def test_a_hostile_regex_is_cut_off_while_other_requests_are_served(long_ids, monkeypatch):
    from embspace.explore import _views

    monkeypatch.setattr(_views, "REGEX_BUDGET_S", 1.5)
    answers = {}

    def hostile():
        answers["hostile"] = long_ids.get("/api/space/0/search", params={"q": "(a|aa)+$", "mode": "regex"})

    worker = threading.Thread(target=hostile)
    worker.start()
    time.sleep(0.2)  # let the hostile search start
    normal = long_ids.get("/api/space/0/search", params={"q": "pla", "mode": "prefix"})
    still_running = worker.is_alive()
    worker.join()
    assert normal.status_code == 200 and normal.json()["total"] == 1
    assert still_running  # answered while the hostile search ran: it does not hold the interpreter
    out = answers["hostile"]
    assert out.status_code == 400 and out.json()["error"].startswith("pattern too expensive")
    monkeypatch.setattr(_views, "REGEX_BUDGET_S", 30.0)
    fine = long_ids.get("/api/space/0/search", params={"q": "^(plain|-{68}3)$", "mode": "regex"}).json()
    assert fine["total"] == 2 and [r["id"] for r in fine["results"]] == ["-" * 68 + "3", "plain"]


def _post_map(client, body, **headers):
    return client.post("/api/space/0/maps", content=body, headers={"content-type": "application/json", **headers})


def test_hostile_json_bodies_get_400_not_500(client):
    for body in (
        b"[" * 20_000 + b"]" * 20_000,  # nested deeper than the parser's recursion
        b'{"seed": ' + b"9" * 5000 + b"}",  # past Python's 4,300-digit limit
        b'{"dims": 1e999}',  # infinity
        b'{"method": "pca", "dims": 2, "sample": NaN}',
        b"\xff\xfe",
    ):
        out = _post_map(client, body)
        assert out.status_code == 400 and out.json()["error"], body[:20]


def test_big_bodies_and_urls_are_refused(client):
    assert _post_map(client, b" " * 1_000_000 + b"{}").status_code == 413  # declared length
    chunked = _post_map(client, (b" " * 10_000 for _ in range(100)))  # no length: counted as it arrives
    assert chunked.status_code == 413 and "at most" in chunked.text
    assert _post_map(client, b'{"method": "pca", "dims": 5}').status_code == 400  # a normal body still reaches
    assert client.get("/api/spaces", params={"q": "x" * 60_000}).status_code == 414  # httpx caps at 64 KiB


def test_a_long_unknown_id_costs_no_suggestions(client):
    from embspace.errors import close_matches

    class Counted(str):
        calls = 0

        def lower(self):
            Counted.calls += 1
            return super().lower()

    assert close_matches(Counted("w" * 100_000), [f"w{i}" for i in range(1000)]) == []
    assert Counted.calls == 0  # before: lowered once per vocabulary item
    out = client.get("/api/space/0/neighbors", params={"id": "w" * 10_000})
    assert out.status_code == 404 and out.json()["suggestions"] == []
    assert close_matches("W42", [f"w{i}" for i in range(100)])[0] == "w42"


def test_uvicorn_answers_a_megabyte_url_with_414(spaces):
    proc = subprocess.Popen(
        [sys.executable, "-c", "from embspace.cli import main; main()", "serve", str(spaces[0]), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        port = int(re.search(r":(\d+)/", proc.stdout.readline()).group(1))
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            head = f"GET /api/spaces?q={'x' * 1_000_000} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
            sock.sendall(head.encode())
            assert sock.recv(100).startswith(b"HTTP/1.1 414 ")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# ---- thumbnails of a space of images (issue 13) -------------------------------------------------------
@pytest.fixture(scope="module")
def images(spaces, tmp_path_factory):
    """A served space of 100 digits with thumbnails on two sprite pages, beside a plain space."""
    from _thumbspace import image_space

    folder = tmp_path_factory.mktemp("images")
    path = embspace.save(image_space(100), folder / "digits.space")
    app = create_app([spaces[0], path], "127.0.0.1", PORT)
    with TestClient(app, base_url=BASE) as c:
        yield c, path, app


def test_thumbnail_pages_and_tiles_are_served(images):
    client, path, _ = images
    plain, digits = client.get("/api/spaces").json()["spaces"]
    assert plain["thumbnails"] is None
    layout = digits["thumbnails"]
    assert layout == {"tile": 32, "cols": 8, "rows": 8, "per_page": 64, "pages": 2, "count": 100}
    assert client.get("/api/space/1").json()["thumbnails"] == layout
    for page in (0, 1):
        r = client.get(f"/api/space/1/thumbs/{page}.png")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert r.content == (path / "assets" / f"thumbs-{page:03d}.png").read_bytes()
        assert r.headers["cache-control"] == "private, no-cache" and r.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'none'" in r.headers["content-security-policy"]
        again = client.get(f"/api/space/1/thumbs/{page}.png", headers={"if-none-match": r.headers["etag"]})
        assert again.status_code == 304 and not again.content
    tiles = client.get("/api/space/1/thumbs/tiles")
    assert tiles.status_code == 200 and tiles.headers["x-embspace-dtype"] == "int32"
    expected = embspace.load(path).meta["thumbnail"]
    assert np.frombuffer(tiles.content, dtype="<i4").tolist() == expected and expected[-1] == -1


def test_thumbnail_routes_refuse_what_is_not_a_listed_page(images):
    client, _, app = images
    for url in (
        "/api/space/1/thumbs/2.png",
        "/api/space/1/thumbs/99999999999999999999.png",
        "/api/space/0/thumbs/0.png",
    ):
        r = client.get(url)
        assert r.status_code == 404 and "error" in r.json(), url
    assert "keeps no thumbnails" in client.get("/api/space/0/thumbs/tiles").json()["error"]
    for raw in (
        b"/api/space/1/thumbs/manifest.json",
        b"/api/space/1/thumbs/vectors.npy",
        b"/api/space/1/thumbs/-1.png",
        b"/api/space/1/thumbs/0.npy",
        b"/api/space/1/thumbs/thumbs-000.png",
        b"/api/space/1/thumbs/..%2Fmanifest.json",
        b"/api/space/1/thumbs/0.png/../../manifest.json",
        b"/api/space/1/thumbs/%2e%2e/%2e%2e/items.parquet",
    ):
        status, body = _raw_get(app, raw)
        assert status in (400, 404) and b"PNG" not in body and b"embspace.space" not in body, raw
    # the same guards as every API route: another site, another Host
    assert client.get("/api/space/1/thumbs/0.png", headers={"sec-fetch-site": "cross-site"}).status_code == 403
    assert client.get("/api/space/1/thumbs/0.png", headers={"host": "evil.example:8765"}).status_code == 400


def test_a_page_changed_or_linked_away_after_opening_is_not_served(images, tmp_path):
    import shutil

    _, path, _ = images
    copy = shutil.copytree(path, tmp_path / "digits.space")
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"TOP-SECRET")
    app = create_app([copy], "127.0.0.1", PORT)
    with TestClient(app, base_url=BASE) as c:
        (copy / "assets" / "thumbs-000.png").write_bytes(b"\x89PNG other picture")
        r = c.get("/api/space/0/thumbs/0.png")
        assert r.status_code == 404 and "changed on disk" in r.json()["error"]
        (copy / "assets" / "thumbs-001.png").unlink()
        os.symlink(secret, copy / "assets" / "thumbs-001.png")
        r = c.get("/api/space/0/thumbs/1.png")
        assert r.status_code == 404 and b"TOP-SECRET" not in r.content


def test_a_damaged_thumbnail_layout_leaves_the_space_served_without_pictures(tmp_path):
    from _thumbspace import image_space

    space = image_space(40, cols=4, rows=4)
    space.info["thumbnails"]["pages"] = 5  # lists pages the space does not hold
    path = embspace.save(space, tmp_path / "damaged.space")
    get_or_make_map(path, "pca", 2)
    with TestClient(create_app([path], "127.0.0.1", PORT), base_url=BASE) as c:
        assert c.get("/api/spaces").json()["spaces"][0]["thumbnails"] is None
        r = c.get("/api/space/0/thumbs/0.png")
        assert r.status_code == 404 and "thumbnail layout is damaged" in r.json()["error"]
        assert c.get("/api/space/0/neighbors", params={"row": 0, "k": 3}).status_code == 200


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: s.info["thumbnails"].update(tile=0), "tile 0 px"),
        (lambda s: s.info["thumbnails"].update(tile="32"), "expected integers"),
        (lambda s: s.info["thumbnails"].update(per_page=65), "per_page 65 is not cols x rows"),
        (lambda s: s.info["thumbnails"].update(cols=1000), "pages of 32000 x 256 px"),
        (lambda s: s.info["thumbnails"].update(format="jpeg"), "only png is read"),
        (lambda s: s.assets.pop("thumbs-001.png"), "page thumbs-001.png is not among the space's files"),
        (lambda s: s.meta.pop("thumbnail"), "no 'thumbnail' column"),
        (lambda s: s.info.update(thumbnails=[1, 2]), "expected integers"),
    ],
)
def test_a_damaged_thumbnail_layout_is_named(edit, message):
    from _thumbspace import image_space
    from embspace.images import _sprites

    space = image_space(100)
    edit(space)
    with pytest.raises(embspace.EmbspaceError, match="thumbnail layout is damaged") as caught:
        _sprites.layout(space)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    plain = embspace.Space(["a", "b"], np.eye(2, dtype=np.float32), info={"name": "plain"})
    assert _sprites.layout(plain) is None and _sprites.tiles(plain).tolist() == [-1, -1]
    with pytest.raises(embspace.EmbspaceError, match="plain keeps no thumbnails, which a thumbnail needs"):
        _sprites.thumbnail(plain, 0)


# ---- a space of items: titles, genres, users ---------------------------------------------------------------
ML = os.path.join(os.path.dirname(__file__), "..", ".venv", "data", "ml-100k")


@pytest.fixture(scope="module")
def ml_items(spaces, tmp_path_factory):
    """ItemKNN on MovieLens-100k's first 20,000 interactions (titles and genres from its .item file), with
    a PCA map of every item, served beside the plain space of the other tests."""
    pytest.importorskip("scipy")
    pytest.importorskip("pyarrow")
    inter = os.path.join(ML, "ml-100k.inter")
    if not os.path.exists(inter):
        pytest.skip("MovieLens-100k not installed: run `make datasets`")
    from embspace import items

    folder = tmp_path_factory.mktemp("items")
    with open(inter, encoding="utf-8") as fh:
        lines = [next(fh) for _ in range(20_001)]
    (folder / "head.inter").write_text("".join(lines), encoding="utf-8")
    space = items.build(folder / "head.inter", method="itemknn", items_meta=os.path.join(ML, "ml-100k.item"))
    path = embspace.save(space, folder / "ml.space")
    key = get_or_make_map(path, "pca", 2).key
    had: dict[str, set[str]] = {}
    for line in lines[1:]:
        user, item = line.split("\t")[:2]
        had.setdefault(user, set()).add(item)
    app = create_app([spaces[0], path], "127.0.0.1", PORT)
    with TestClient(app, base_url=BASE) as c:
        served = c.app.app.state.explorer.spaces[1]
        from embspace.explore._users import _state

        histories = dict(zip(_state(served).user_ids, _state(served).histories))
        yield {"client": c, "key": key, "had": had, "space": embspace.load(path), "histories": histories}


def test_a_users_history_and_recommendations_come_with_titles_and_map_places(ml_items):
    c, key, had, space = ml_items["client"], ml_items["key"], ml_items["had"], ml_items["space"]
    summary = c.get("/api/spaces").json()["spaces"][1]
    assert summary["title"] is True and summary["users"] == len(had)
    out = c.get("/api/space/1/user", params={"id": "196", "k": 20, "map": key}).json()
    assert out["user"] == "196" and out["interactions"] == len(had["196"]) and out["note"] is None
    assert {h["id"] for h in out["history"]} == had["196"]  # what the user had in training, every item
    assert all(h["map_index"] is not None and h["title"] for h in out["history"])
    recs = out["recommendations"]
    assert len(recs) == 20 and not {r["id"] for r in recs} & had["196"]  # seen items left out
    assert [r["id"] for r in recs] == [r.id for r in space.recommend(user="196", k=20)]
    assert all(a["score"] >= b["score"] for a, b in zip(recs, recs[1:]))
    assert all(r["title"] and r["map_index"] is not None and r["because"] for r in recs)
    assert all({b["id"] for b in r["because"]} <= had["196"] and all(b["title"] for b in r["because"]) for r in recs)
    titles = c.get("/api/space/1/titles").json()
    assert len(titles) == space.n and titles[space.index("50")] == "Star Wars"
    near = c.get("/api/space/1/neighbors", params={"id": "50", "k": 3}).json()
    assert near["query"]["title"] == "Star Wars" and all(n["title"] for n in near["neighbors"])
    found = c.get("/api/space/1/search", params={"q": "5", "mode": "prefix", "limit": 3}).json()["results"]
    assert [r["title"] for r in found] == [space.meta["title"][space.index(r["id"])] for r in found]


def test_titles_are_found_like_ids(ml_items):
    c, space = ml_items["client"], ml_items["space"]
    exact = c.get("/api/space/1/search", params={"q": "star wars"}).json()
    assert [r["id"] for r in exact["results"]] == ["50"] and exact["suggestions"] == []
    by_id = c.get("/api/space/1/search", params={"q": "50"}).json()["results"]
    assert [(r["id"], r["title"]) for r in by_id] == [("50", "Star Wars")]  # an id still wins
    prefix = c.get("/api/space/1/search", params={"q": "Star ", "mode": "prefix"}).json()["results"]
    assert {"Star Wars", "Star Trek: First Contact"} <= {r["title"] for r in prefix}
    assert all(r["title"].lower().startswith("star ") or r["id"].startswith("Star ") for r in prefix)
    regex = c.get("/api/space/1/search", params={"q": "^Return of the Jedi$", "mode": "regex"}).json()["results"]
    assert [r["id"] for r in regex] == [space.ids[space.meta["title"].index("Return of the Jedi")]]


def test_users_are_found_by_id_with_bounded_results(ml_items):
    c, had = ml_items["client"], ml_items["had"]
    out = c.get("/api/space/1/users", params={"q": "19", "limit": 5}).json()
    assert out["results"][0]["id"] == "19" and len(out["results"]) == 5 and out["users"] == len(had)
    assert out["total"] == sum("19" in u for u in had) and all(r["id"].startswith("19") for r in out["results"])
    assert out["results"][0]["interactions"] == len(had["19"])
    active = c.get("/api/space/1/users", params={"limit": 3}).json()["results"]  # the most active first
    counts = [c.get("/api/space/1/user", params={"id": r["id"], "k": 1}).json()["interactions"] for r in active]
    assert [r["interactions"] for r in active] == counts and counts == sorted(counts, reverse=True)
    assert counts[0] == max(len(v) for v in ml_items["histories"].values())
    assert c.get("/api/space/1/users", params={"q": "no such user"}).json()["total"] == 0


@pytest.mark.parametrize(
    "path, params, status, says",
    [
        ("user", {"id": "1966"}, 404, "did you mean '196'"),
        ("user", {"id": ""}, 400, "give a user id"),
        ("user", {"id": "9" * 5000}, 400, "at most 200"),
        ("user", {"id": "196", "k": "0"}, 400, "k must be between 1 and 100"),
        ("user", {"id": "196", "k": "1e9"}, 400, "k must be an integer"),
        ("user", {"id": "196", "map": "Not-A-Key"}, 400, ""),
        ("users", {"q": "1" * 201}, 400, "at most 200"),
        ("users", {"limit": "101"}, 400, "limit must be between 1 and 100"),
    ],
)
def test_bad_user_requests_get_one_line_json_errors(ml_items, path, params, status, says):
    r = ml_items["client"].get(f"/api/space/1/{path}", params=params)
    assert r.status_code == status and r.headers["content-type"] == "application/json"
    error = r.json()["error"]
    assert says in error and "\n" not in error and len(error) < 400
    if status == 404:
        assert "196" in r.json()["suggestions"]


def test_genres_colour_by_their_first_one_and_the_legend_lists_single_genres(ml_items):
    c, key, space = ml_items["client"], ml_items["key"], ml_items["space"]
    legend = c.get(f"/api/space/1/map/{key}/colors", params={"column": "genres"}).json()
    assert legend["kind"] == "categorical" and "Drama" in legend["labels"] and "Comedy" in legend["labels"]
    assert not any("|" in label for label in legend["labels"]) and "first one" in legend["note"]
    codes = np.frombuffer(c.get(f"/api/space/1/map/{key}/colors.f32", params={"column": "genres"}).content, "<f4")
    star_wars = space.index("50")  # Action|Adventure|Romance|Sci-Fi|War
    assert space.meta["genres"][star_wars].startswith("Action|")
    assert legend["labels"][int(codes[star_wars])] == "Action"
    plain = c.get("/api/space/0/map/pca-2d-n400-s0/colors", params={"column": "pos"}).json()
    assert "note" not in plain and sorted(plain["labels"]) == ["<b>adj</b>", "noun", "verb"]


def test_spaces_without_users_or_titles_behave_as_before(client):
    summary = client.get("/api/spaces").json()["spaces"][0]
    assert summary["users"] is None and summary["title"] is False
    for path in ("users", "user?id=w5"):
        r = client.get(f"/api/space/0/{path}")
        assert r.status_code == 400 and "not built from interactions" in r.json()["error"]
    assert client.get("/api/space/0/titles").status_code == 404
    near = client.get("/api/space/0/neighbors", params={"id": "w10", "k": 3}).json()
    assert "title" not in near["query"] and all("title" not in n for n in near["neighbors"])


def test_hostile_users_and_titles_come_back_as_escaped_data(tmp_path):
    pytest.importorskip("scipy")
    pytest.importorskip("pyarrow")
    from embspace import items

    rows = [{"user": XSS[u % len(XSS)], "item": f"i{i}"} for u in range(12) for i in range(u % 5, u % 5 + 6)]
    (tmp_path / "inter.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    meta = [{"item": f"i{i}", "title": XSS[i % len(XSS)], "genres": "Drama|<b>x</b>"} for i in range(10)]
    (tmp_path / "items.jsonl").write_text("\n".join(json.dumps(m) for m in meta) + "\n", encoding="utf-8")
    space = items.build(tmp_path / "inter.jsonl", method="itemknn", items_meta=tmp_path / "items.jsonl")
    path = embspace.save(space, tmp_path / "hostile.space")
    with TestClient(create_app([path], "127.0.0.1", PORT), base_url=BASE) as c:
        for url, params in [
            ("/api/space/0/users", {"q": "<"}),
            ("/api/space/0/user", {"id": XSS[0], "k": 5}),
            ("/api/space/0/user", {"id": XSS[0] + "<script>"}),
            ("/api/space/0/titles", {}),
        ]:
            r = c.get(url, params=params)
            assert r.status_code in (200, 404) and r.headers["content-type"] == "application/json"
            assert b"<" not in r.content and b">" not in r.content
        users = c.get("/api/space/0/users", params={"q": "<"}).json()["results"]
        assert {u["id"] for u in users} == {x for x in XSS if "<" in x}
        out = c.get("/api/space/0/user", params={"id": XSS[0], "k": 5}).json()
        assert out["user"] == XSS[0] and {h["title"] for h in out["history"]} <= set(XSS)
        assert c.get("/api/space/0/titles").json() == [space.meta["title"][r] for r in range(space.n)]
