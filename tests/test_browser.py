"""The explorer in a real browser: Debian's Chromium, headless, software WebGL, against the real
server (uvicorn in a thread) on 100,000 GloVe words."""

from __future__ import annotations

import http.client
import io
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import embspace
from conftest import XSS

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "the browser tests drive Debian's Chromium at /usr/bin/chromium, which is not installed "
        "(apt-get install chromium)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the browser tests need playwright (pip install playwright)"
)
pytest.importorskip("starlette")
pytest.importorskip("sklearn")

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # software WebGL (SwiftShader through ANGLE): the page draws with WebGL and CI has no GPU
    "--enable-unsafe-swiftshader",
    "--use-angle=swiftshader",
    # evil.example resolves to the server, as it would after a DNS rebinding
    "--host-resolver-rules=MAP evil.example 127.0.0.1",
]
N = 100_000
MAP_2D = f"pca-2d-n{N}-s0"
MAP_3D = "pca-3d-n20000-s0"


@pytest.fixture(scope="module")
def served(glove, tmp_path_factory):
    """The first 100,000 GloVe words with PCA maps (2-D of all, 3-D of 20,000), a small space
    with hostile ids and metadata, and one that shares no id with them, served by uvicorn on a
    free port."""
    import uvicorn

    from embspace.explore import create_app
    from embspace.explore._server import bind
    from embspace.reduce import get_or_make_map

    folder = tmp_path_factory.mktemp("browser")
    words = embspace.save(glove.head(N), folder / "glove100k.space")
    get_or_make_map(words, "pca", 2)
    get_or_make_map(words, "pca", 3, sample=20_000)
    head = glove.head(300)
    ids = list(head.ids)
    ids[: len(XSS)] = XSS
    pos = [XSS[i % len(XSS)] if i % 7 == 0 else ("noun", "verb", "<b>adj</b>")[i % 3] for i in range(300)]
    hostile = embspace.save(
        embspace.Space(ids, head.vectors, meta={"pos": pos}, info={"name": "<i>hostile</i>"}), folder / "hostile.space"
    )
    get_or_make_map(hostile, "pca", 2)
    rng = np.random.default_rng(0)  # a third space that shares no id with the others
    elsewhere = embspace.save(
        embspace.Space([f"elsewhere-{i}" for i in range(200)], rng.normal(size=(200, 50)), info={"name": "elsewhere"}),
        folder / "elsewhere.space",
    )
    get_or_make_map(elsewhere, "pca", 2)
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app([words, hostile, elsewhere], "127.0.0.1", port), log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield {"url": f"http://127.0.0.1:{port}/", "port": port, "space": embspace.load(words)}
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture(scope="module")
def playwright():
    with sync_api.sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright):
    b = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
    yield b
    b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    pg = context.new_page()
    pg.problems = []
    pg.on("pageerror", lambda e: pg.problems.append(f"page error: {e}"))
    pg.on("dialog", lambda d: (pg.problems.append(f"dialog: {d.message}"), d.dismiss()))
    pg.on("console", lambda m: pg.problems.append(f"console: {m.text}") if m.type == "error" else None)
    yield pg
    context.close()


def _open(page, url: str, drawn: int) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready='true']", timeout=60_000)
    page.wait_for_function(f"document.body.dataset.drawn === '{drawn}'", timeout=60_000)


def _not_blank(page, selector: str = "#pane-a") -> float:
    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(page.locator(selector).screenshot())).convert("L"), dtype=np.float64)
    assert image.std() > 5, f"the map looks blank (pixel std {image.std():.2f})"
    return image.std()


def _settled_position(page, word: str) -> tuple[float, float]:
    """Where `word` is on screen once the view stopped moving (the flight to it is animated, and
    slower on a busy machine)."""
    last = None
    for _ in range(100):
        here = page.evaluate("w => embspace.screenOf(w)", word)
        if here is not None and last is not None and max(abs(a - b) for a, b in zip(here, last)) < 0.5:
            return here
        last = here
        page.wait_for_timeout(150)
    raise AssertionError(f"{word} did not settle on screen: {last}")


def _click_point(page, word: str, tries: int = 4) -> None:
    """Click `word`'s point on the map until it is selected: the page picks points through a
    spatial index it builds on the main thread after drawing, which a busy machine may not have
    finished when the first click lands."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(tries):
        x, y = _settled_position(page, word)
        page.evaluate("() => { document.querySelector('#sel-id').textContent = ''; }")
        page.mouse.click(x, y)
        try:
            page.wait_for_function(f"document.querySelector('#sel-id').textContent === {word!r}", timeout=10_000)
            return
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise


def _hover_a_picture(page, tries: int = 4) -> tuple[str, float, float]:
    """Hover the corner of a drawn picture, away from every dot, until its tooltip shows. The view
    flies to a focused point (animated, slower on a busy machine) and the pictures are laid out
    again when it stops, so a target taken mid-flight can miss: wait for the view to settle and try
    again with a fresh layout."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(tries):
        _settled_position(page, "digits/0100.png")
        page.wait_for_function(
            "document.querySelector('#pane-a canvas.pictures').dataset.state === 'pictures'", timeout=30_000
        )
        target = page.evaluate(
            """() => {
              const pane = embspace.panes.a, plot = pane.plot, layer = plot.pictures, half = layer.size / 2;
              const dots = [];
              for (let i = 0; i < plot.n; i += 1) { const p = plot.screen(i); if (p) dots.push(p); }
              for (const [i, x, y] of layer.drawn) {
                const cx = x + half - 4, cy = y + half - 4;
                const box = pane.plotBox;
                if (cx < 5 || cy < 5 || cx > box.clientWidth - 5 || cy > box.clientHeight - 5) continue;
                if (dots.every(([dx, dy]) => Math.hypot(dx - cx, dy - cy) > 14)) {
                  const r = pane.plotBox.getBoundingClientRect();
                  return [pane.idOf(i), r.left + cx, r.top + cy];
                }
              }
              return null;
            }"""
        )
        assert target is not None
        item, tx, ty = target
        page.mouse.move(tx, ty)
        try:
            page.wait_for_function(
                "id => document.querySelector('#pane-a .tooltip .tip-id')?.textContent === id", arg=item, timeout=5_000
            )
            return item, tx, ty
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise
            page.mouse.move(1, 1)
    raise AssertionError("unreachable")


def _neighbour_ids(page, which: str = "#neighbors") -> list[str]:
    return page.eval_on_selector_all(f"{which} li", "els => els.map(e => e.dataset.id)")


def test_search_click_neighbours_switch_map(served, page):
    _open(page, served["url"], N)
    _not_blank(page)
    # search flies to the word and lists its true neighbours (exact, in the original space)
    page.fill("#search", "king")
    page.press("#search", "Enter")
    page.wait_for_function("document.querySelector('#sel-id').textContent === 'king'", timeout=30_000)
    expected = [n.id for n in served["space"].neighbors("king", k=10)]
    assert _neighbour_ids(page) == expected
    assert page.locator("#neighbors .tag.far").count() + page.locator("#neighbors .tag.near").count() == 10
    # a neighbour in the list selects it; then find king again and click its point on the map
    page.click("#neighbors li[data-id='queen'] button")
    page.wait_for_function("document.querySelector('#sel-id').textContent === 'queen'", timeout=30_000)
    page.fill("#search", "king")
    page.press("#search", "Enter")
    page.wait_for_function("document.querySelector('#sel-id').textContent === 'king'", timeout=30_000)
    _click_point(page, "king")
    assert _neighbour_ids(page) == expected
    assert "id=king" in page.evaluate("location.hash")
    # analogy: man : king :: woman : queen
    for field, word in (("#an-a", "man"), ("#an-b", "king"), ("#an-c", "woman")):
        page.fill(field, word)
    page.click("#analogy-form button")
    page.wait_for_function("document.querySelectorAll('#analogy-answers li').length === 10", timeout=30_000)
    assert page.text_content("#analogy-answers li").startswith("queen")
    # colour by each point's map trust; the badge says how far the map holds
    page.select_option("#color", ":trust")
    page.wait_for_function("document.querySelector('#legend').textContent.includes('10/10')", timeout=30_000)
    assert "trust 0." in page.text_content("#trust-badge")
    # export the view as PNG
    with page.expect_download() as download:
        page.click("#export-png")
    png = Path(download.value.path()).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    # switch to the 3-D map: drawn, still focused on king
    page.select_option("#map", MAP_3D)
    page.wait_for_function(f"document.body.dataset.map === '{MAP_3D}'", timeout=60_000)
    page.wait_for_timeout(500)
    _not_blank(page)
    assert page.text_content("#sel-id") == "king" and len(_neighbour_ids(page)) == 10
    page.wait_for_function(f"['m={MAP_3D}', 'id=king', 'c='].every(s => location.hash.includes(s))", timeout=30_000)
    shared = page.url
    assert f"m={MAP_3D}" in shared and "id=king" in shared and "c=" in shared
    # the address holds the view: a fresh page opens the same one
    other = page.context.new_page()
    _open(other, shared, 20_000)
    other.wait_for_function("document.querySelector('#sel-id').textContent === 'king'", timeout=30_000)
    assert other.input_value("#map") == MAP_3D and other.input_value("#color") == ":trust"
    other.close()
    assert not page.problems, page.problems


def test_lasso_selection_saves_as_csv(served, page):
    _open(page, served["url"] + f"#s=0&m={MAP_2D}", N)
    box = page.locator("#pane-a .plot").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    path = (
        [(cx - 60 + 120 * t / 12, cy - 60) for t in range(13)]
        + [(cx + 60, cy - 60 + 120 * t / 12) for t in range(13)]
        + [(cx + 60 - 120 * t / 12, cy + 60) for t in range(13)]
        + [(cx - 60, cy + 60 - 110 * t / 12) for t in range(12)]
    )
    page.click("#lasso")
    page.mouse.move(*path[0])
    page.mouse.down()
    for x, y in path[1:]:
        page.mouse.move(x, y)
        page.wait_for_timeout(15)
    page.mouse.up()
    page.wait_for_function("!document.querySelector('#lasso-panel').hidden", timeout=30_000)
    count = int(page.text_content("#lasso-summary").split()[0].replace(",", ""))
    assert count > 50
    with page.expect_download() as download:
        page.click("#export-csv")
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0] == '"id","row","map_x","map_y"' and len(lines) == count + 1
    ids = served["space"].ids
    for line in lines[1:20]:
        word, row = line.split(",")[0].strip('"'), int(line.split(",")[1])
        assert ids[row] == word.removeprefix("'")
    assert not page.problems, page.problems


def test_hostile_ids_stay_inert(served, page):
    _open(page, served["url"] + "#s=1&col=pos", 300)
    page.select_option("#search-mode", "regex")
    page.fill("#search", "[<>:&]")
    page.press("#search", "Enter")
    page.wait_for_selector("#search-results button", timeout=30_000)
    shown = page.eval_on_selector_all("#search-results button", "els => els.map(e => e.textContent)")
    assert set(XSS[:5]) <= {s.removesuffix(" (not on map)") for s in shown}
    page.click("#search-results button >> nth=0")
    page.wait_for_function("document.querySelector('#sel-id').textContent.length > 0", timeout=30_000)
    assert page.text_content("#sel-id") == XSS[0]
    x, y = _settled_position(page, XSS[0])
    page.mouse.move(x, y)
    page.wait_for_function("!document.querySelector('#pane-a .tooltip').hidden", timeout=10_000)
    legend = page.text_content("#legend")
    assert "<b>adj</b>" in legend and XSS[1] in legend
    assert page.title() == "embspace explorer" and "<i>hostile</i>" in page.text_content("#space")
    assert page.is_hidden("#pictures") and page.locator("canvas.thumb").count() == 0  # a space without pictures
    for word in XSS[1:4]:
        page.evaluate("id => embspace.focusId(id)", word)
        page.wait_for_function("id => document.querySelector('#sel-id').textContent === id", arg=word, timeout=30_000)
    injected = page.evaluate("""() => ({
        elements: document.querySelectorAll('img, iframe, object, embed, b, i, script:not([src])').length,
        links: [...document.querySelectorAll('a[href]')].map(a => a.href),
        handlers: [...document.querySelectorAll('*')]
            .filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
    })""")
    assert injected == {"elements": 0, "links": [], "handlers": 0}
    page.wait_for_timeout(300)
    assert not page.problems, page.problems  # no alert() dialog fired, no script error


def test_a_missing_map_is_drawn_from_the_page(served, page):
    _open(page, served["url"] + "#s=1", 300)
    page.click("#new-map-toggle")
    page.select_option("#nm-method", "pca")
    page.select_option("#nm-dims", "3")
    page.fill("#nm-sample", "200")
    page.fill("#nm-seed", "3")
    page.click("#new-map-form button[type=submit]")
    page.wait_for_function("document.body.dataset.map === 'pca-3d-n200-s3'", timeout=60_000)
    assert "done" in page.text_content("#job-state")
    assert page.input_value("#map") == "pca-3d-n200-s3"
    assert "pca-3d-n200-s3" in page.eval_on_selector_all("#map option", "els => els.map(e => e.value)")
    _not_blank(page)
    assert not page.problems, page.problems


def test_compare_two_spaces_with_linked_selection(served, page):
    _open(page, served["url"], N)
    page.check("#compare")
    page.wait_for_function("document.querySelectorAll('#compare-list li').length > 0", timeout=60_000)
    assert "294 shared ids" in page.text_content("#compare-summary")
    page.click("#compare-list li button >> nth=0")
    page.wait_for_function("document.querySelectorAll('#neighbors-b li').length === 10", timeout=30_000)
    assert len(_neighbour_ids(page)) == 10 and "shared" in page.text_content("#nb-b-title")
    _not_blank(page, "#pane-b")
    page.wait_for_function("location.hash.includes('cmp=1')", timeout=5_000)  # the view, shareable
    assert not page.problems, page.problems


def test_a_foreign_host_gets_400(served, page):
    # the browser resolves evil.example to the server, as after a DNS rebinding
    response = page.goto(f"http://evil.example:{served['port']}/api/spaces")
    assert response.status == 400 and "Host" in response.text()
    conn = http.client.HTTPConnection("127.0.0.1", served["port"], timeout=10)
    conn.request("GET", "/", headers={"Host": "attacker.example"})
    r = conn.getresponse()
    assert r.status == 400 and "content-security-policy" in {k.lower() for k, _ in r.getheaders()}
    conn.close()


def _on_screen(page) -> list[int]:
    """[points of the main map inside its pane, points of the map]."""
    return page.evaluate("""() => {
        const pane = embspace.panes.a;
        const box = pane.plotBox.getBoundingClientRect();
        let inside = 0;
        for (let i = 0; i < pane.n; i += 1) {
            const p = pane.plot.screen(i);
            if (p && p[0] >= 0 && p[0] <= box.width && p[1] >= 0 && p[1] <= box.height) inside += 1;
        }
        return [inside, pane.n];
    }""")


def test_another_space_opens_on_its_whole_map(served, page):
    _open(page, served["url"], N)
    page.fill("#search", "king")
    page.press("#search", "Enter")
    page.wait_for_function("document.querySelector('#sel-id').textContent === 'king'", timeout=30_000)
    _settled_position(page, "king")
    inside, n = _on_screen(page)
    assert inside < n / 10  # zoomed in on king
    page.select_option("#space", "1")
    page.wait_for_function("document.body.dataset.drawn === '300'", timeout=60_000)
    assert _on_screen(page) == [300, 300]  # the whole new map, not the corner where king was
    page.select_option("#space", "0")
    page.wait_for_function(f"document.body.dataset.drawn === '{N}'", timeout=60_000)
    assert _on_screen(page) == [N, N]
    # unless the address says where to look
    other = page.context.new_page()
    _open(other, served["url"] + "#s=1&m=pca-2d-n300-s0&c=0.3000,0.3000,0.0500", 300)
    assert other.evaluate("embspace.panes.a.plot.camera()") == "0.3000,0.3000,0.0500"
    assert _on_screen(other)[0] < 300
    other.close()
    assert not page.problems, page.problems


def test_compare_offers_only_spaces_that_share_ids(served, page):
    _open(page, served["url"], N)
    page.check("#compare")
    page.wait_for_function("document.querySelectorAll('#compare-list li').length > 0", timeout=60_000)
    offered = page.eval_on_selector_all("#space-b option", "els => els.map(e => [e.value, e.textContent])")
    assert offered == [["1", "<i>hostile</i> (294 shared)"]]  # not 'elsewhere', which shares none
    assert not page.problems, page.problems
    # a space that shares no id with any other: said at once, nothing left spinning
    alone = page.context.new_page()
    _open(alone, served["url"] + "#s=2", 200)
    alone.click("#compare")  # not check(): the page may untick it before playwright looks
    alone.wait_for_function("document.querySelector('#status').textContent.includes('shares ids')", timeout=30_000)
    assert "no other space shares ids with elsewhere" in alone.text_content("#status")
    assert not alone.is_checked("#compare") and alone.is_hidden("#pane-b") and alone.is_hidden("#compare-panel")
    alone.close()
    # a comparison that fails says why where it said it was comparing
    failing = page.context.new_page()
    failing.route(
        "**/api/compare?*",
        lambda route: route.fulfill(status=500, content_type="application/json", body='{"error": "it fell over"}'),
    )
    _open(failing, served["url"], N)
    failing.check("#compare")
    failing.wait_for_function(
        "document.querySelector('#compare-summary').textContent.includes('could not compare')", timeout=60_000
    )
    assert failing.text_content("#compare-summary") == "could not compare: it fell over"
    assert "it fell over" in failing.text_content("#status")
    failing.close()


def test_without_webgl_the_page_says_what_to_do(served, playwright):
    args = [a for a in ARGS if "swiftshader" not in a] + ["--disable-webgl", "--disable-3d-apis"]
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(served["url"])
        page.wait_for_selector("body[data-ready='no-webgl']", timeout=60_000)
        assert page.is_visible("#no-webgl") and page.is_hidden("#main")
        notice = page.text_content("#no-webgl")
        assert "needs WebGL" in notice and "elsewhere" in page.text_content("#no-webgl-spaces")
        assert "embspace map SPACE -o map.html" in notice and "embspace map SPACE -o map.png" in notice
        assert not errors and "getExtension" not in page.text_content("#status")
    finally:
        browser.close()


# ---- a space of images: thumbnails on hover, in the panel, beside neighbours, in place of points ----------
IMAGES = 1000


@pytest.fixture(scope="module")
def image_served(tmp_path_factory):
    """1,000 scikit-learn digits as a space of images (thumbnails on four sprite pages, a few hostile
    ids), with a PCA map, served by uvicorn on a free port."""
    import uvicorn

    from _thumbspace import image_space
    from embspace.explore import create_app
    from embspace.explore._server import bind
    from embspace.reduce import get_or_make_map

    ids = [f"digits/{i:04d}.png" for i in range(IMAGES)]
    ids[1 : 1 + len(XSS)] = XSS
    folder = tmp_path_factory.mktemp("images")
    path = embspace.save(image_space(IMAGES, cols=16, rows=16, ids=ids), folder / "digits.space")
    get_or_make_map(path, "pca", 2)
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app([path], "127.0.0.1", port), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield {"url": f"http://127.0.0.1:{port}/", "space": embspace.load(path)}
    server.should_exit = True
    thread.join(10)
    sock.close()


def _canvas_grey(page, selector: str) -> np.ndarray:
    """The pixels of a canvas, grey, averaged down to 8 x 8 (the digits' own resolution)."""
    got = page.evaluate(
        """sel => { const c = document.querySelector(sel);
                    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                    return [c.width, c.height, Array.from(d)]; }""",
        selector,
    )
    w, h, data = got
    rgba = np.array(data, dtype=np.float64).reshape(h, w, 4)
    return rgba[..., :3].mean(axis=2).reshape(8, h // 8, 8, w // 8).mean(axis=(1, 3))


def _expected_grey(row: int) -> np.ndarray:
    from _thumbspace import picture_of

    return picture_of(IMAGES, row).astype(np.float64).mean(axis=2).reshape(8, 4, 8, 4).mean(axis=(1, 3))


def _pictures_layer(page) -> dict:
    return page.evaluate("() => ({...document.querySelector('#pane-a canvas.pictures').dataset})")


def test_thumbnails_on_hover_in_the_panel_beside_neighbours_and_in_place_of_points(image_served, page):
    space = image_served["space"]
    _open(page, image_served["url"], IMAGES)
    assert page.is_visible("#pictures")
    # the whole map: pictures where they overlap no other (a sample), dots elsewhere
    page.wait_for_function(
        "(() => { const d = document.querySelector('#pane-a canvas.pictures').dataset;"
        " return d.state === 'pictures' && Number(d.shown) > 0; })()",
        timeout=30_000,
    )
    layer = _pictures_layer(page)
    assert 0 < int(layer["shown"]) < IMAGES and int(layer["inView"]) == IMAGES
    # the search dropdown shows each match's picture
    page.select_option("#search-mode", "prefix")
    page.fill("#search", "digits/010")
    page.press("#search", "Enter")
    page.wait_for_function(
        "document.querySelectorAll('#search-results button canvas.search-thumb[data-drawn=\"true\"]').length === 10",
        timeout=10_000,
    )
    page.keyboard.press("Escape")
    # hover: the tooltip shows the picture of the point under the mouse
    x, y = _settled_position(page, "digits/0100.png")
    page.mouse.move(x, y)
    page.wait_for_selector("#pane-a .tooltip canvas.thumb[data-drawn='true']", timeout=10_000)
    hovered = page.text_content("#pane-a .tooltip .tip-id")
    row = space.index(hovered)
    assert np.abs(_canvas_grey(page, "#pane-a .tooltip canvas.thumb") - _expected_grey(row)).mean() < 20
    # select: the picture in the panel, and beside each neighbour its own
    _click_point(page, "digits/0100.png")
    page.wait_for_selector("#sel-thumb canvas[data-drawn='true']", timeout=10_000)
    grey = _canvas_grey(page, "#sel-thumb canvas")
    assert np.abs(grey - _expected_grey(100)).mean() < 20 and np.abs(grey - _expected_grey(101)).mean() > 20
    page.wait_for_function(
        "document.querySelectorAll('#neighbors li canvas.nb-thumb[data-drawn=\"true\"]').length >= 9", timeout=10_000
    )
    shown = page.eval_on_selector_all(
        "#neighbors li", "els => els.map(e => [e.dataset.id, e.querySelector('canvas')?.dataset.tile ?? null])"
    )
    assert [i for i, _ in shown] == [n.id for n in space.neighbors("digits/0100.png", k=10)]
    for item, tile in shown:
        expected = space.meta["thumbnail"][space.index(item)]
        assert tile == (str(expected) if expected >= 0 else None), item
    # zoomed in on it: fewer points in view, each picture bigger; the button turns them off and on
    page.evaluate("embspace.focusId('digits/0100.png')")
    page.wait_for_function(
        "(() => { const d = document.querySelector('#pane-a canvas.pictures').dataset;"
        f" return d.state === 'pictures' && Number(d.shown) > 0 && Number(d.inView) < {IMAGES}; }})()",
        timeout=30_000,
    )
    # a picture answers like its point: hovering its corner (away from every dot) shows it, a click selects it
    item, tx, ty = _hover_a_picture(page)
    page.mouse.click(tx, ty)
    page.wait_for_function("id => document.querySelector('#sel-id').textContent === id", arg=item, timeout=10_000)
    page.click("#pictures")
    page.wait_for_function("document.querySelector('#pane-a canvas.pictures').dataset.state === 'off'")
    page.click("#pictures")
    page.wait_for_function("document.querySelector('#pane-a canvas.pictures').dataset.state === 'pictures'")
    _not_blank(page)
    assert not page.problems, page.problems


def test_hostile_ids_of_images_stay_inert(image_served, page):
    _open(page, image_served["url"], IMAGES)
    for hostile in XSS[:3]:
        page.evaluate("id => embspace.focusId(id)", hostile)
        page.wait_for_function(
            "id => document.querySelector('#sel-id').textContent === id", arg=hostile, timeout=30_000
        )
        page.wait_for_selector("#sel-thumb canvas[data-drawn='true']", timeout=10_000)
        x, y = _settled_position(page, hostile)
        page.mouse.move(x, y)
        page.wait_for_function("!document.querySelector('#pane-a .tooltip').hidden", timeout=10_000)
        page.wait_for_timeout(400)
    assert page.locator("#side img, #pane-a img").count() == 0  # ids are text, pictures are canvases
    assert not page.problems, page.problems


# ---- a space of items: titles, genres, a user's history and recommendations --------------------------------
ML = Path(__file__).resolve().parents[1] / ".venv" / "data" / "ml-100k"


def _serve(paths):
    import uvicorn

    from embspace.explore import create_app
    from embspace.explore._server import bind

    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(paths, "127.0.0.1", port), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    return server, thread, sock, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def items_served(tmp_path_factory):
    """ItemKNN on MovieLens-100k's first 20,000 interactions (titles and genres from its .item file), and a
    small space of items whose users and titles are hostile, each with a PCA map, served by uvicorn."""
    import json

    pytest.importorskip("scipy")
    pytest.importorskip("pyarrow")
    if not (ML / "ml-100k.inter").exists():
        pytest.skip("MovieLens-100k not installed: run `make datasets`")
    from embspace import items
    from embspace.reduce import get_or_make_map

    folder = tmp_path_factory.mktemp("items")
    with open(ML / "ml-100k.inter", encoding="utf-8") as fh:
        (folder / "head.inter").write_text("".join(next(fh) for _ in range(20_001)), encoding="utf-8")
    ml = embspace.save(
        items.build(folder / "head.inter", method="itemknn", items_meta=ML / "ml-100k.item"), folder / "ml.space"
    )
    rows = [{"user": XSS[u % len(XSS)], "item": f"i{(3 * u + j) % 40}"} for u in range(24) for j in range(12)]
    (folder / "inter.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    meta = [{"item": f"i{i}", "title": XSS[i % len(XSS)]} for i in range(40)]
    (folder / "items.jsonl").write_text("\n".join(json.dumps(m) for m in meta) + "\n", encoding="utf-8")
    hostile = embspace.save(
        items.build(folder / "inter.jsonl", method="itemknn", items_meta=folder / "items.jsonl", name="<i>items</i>"),
        folder / "hostile.space",
    )
    for path in (ml, hostile):
        get_or_make_map(path, "pca", 2)
    server, thread, sock, url = _serve([ml, hostile])
    yield {"url": url, "space": embspace.load(ml), "hostile": embspace.load(hostile)}
    server.should_exit = True
    thread.join(10)
    sock.close()


def _ring_pixels(page, colour: str) -> int:
    """How many pixels of the main map's overlay are (nearly) `colour` (#rrggbb)."""
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return page.evaluate(
        """rgb => { const c = document.querySelector('#pane-a canvas.overlay:not(.pictures)');
                    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                    let n = 0;
                    for (let i = 0; i < d.length; i += 4) {
                      if (d[i + 3] > 200 && Math.abs(d[i] - rgb[0]) < 40 && Math.abs(d[i + 1] - rgb[1]) < 40
                          && Math.abs(d[i + 2] - rgb[2]) < 40) n += 1;
                    }
                    return n; }""",
        rgb,
    )


def test_a_users_history_and_recommendations_are_drawn_and_listed(items_served, page):
    space = items_served["space"]
    _open(page, items_served["url"], space.n)
    assert page.is_visible("#users-panel")
    # titles: the tooltip of a hovered point, the selected panel and its neighbours
    x, y = _settled_position(page, "50")
    page.mouse.move(x, y)
    page.wait_for_selector("#pane-a .tooltip:not([hidden]) .tip-title", timeout=10_000)
    hovered = page.evaluate("() => embspace.panes.a.labelOf(embspace.panes.a.hovered)")
    assert page.text_content("#pane-a .tip-title") == hovered and hovered in space.meta["title"]
    assert page.get_attribute("#search", "placeholder") == "find an id or title…"
    page.fill("#search", "star wars")  # a title finds its item, like an id
    page.press("#search", "Enter")
    page.wait_for_function("document.querySelector('#sel-id').textContent.startsWith('Star Wars')")
    assert page.text_content("#sel-id .id-tag") == "50"
    first = page.locator("#neighbors li").first
    nb = first.get_attribute("data-id")
    assert first.locator("button.go").text_content() == space.meta["title"][space.index(nb)] + nb
    # colour by genre: single genres in the legend, and what was done with several
    page.select_option("#color", "genres")
    page.wait_for_function("document.querySelector('#legend').textContent.includes('Drama')")
    assert "coloured by its first one" in page.text_content("#legend .note")
    labels = page.eval_on_selector_all("#legend li:not(.muted) span:not(.count)", "els => els.map(e => e.textContent)")
    assert "Action" in labels and not [label for label in labels if "|" in label]
    # pick a user: the search lists users, bounded, and a click draws them
    assert _ring_pixels(page, "#ff4fd8") == 0
    page.fill("#user-q", "19")
    page.press("#user-q", "Enter")
    page.wait_for_selector("#user-results:not([hidden]) button[data-user='196']")
    assert page.locator("#user-results button").count() <= 20
    page.click("#user-results button[data-user='196']")
    page.wait_for_function("document.body.dataset.user === '196'")
    recs = space.recommend(user="196", k=20)
    assert page.eval_on_selector_all("#user-recs > li", "els => els.map(e => e.dataset.id)") == [r.id for r in recs]
    first = page.locator("#user-recs > li").first
    assert space.meta["title"][space.index(recs[0].id)] in first.text_content()
    because = first.locator(".because").text_content()
    assert because.startswith("because: ") and space.meta["title"][space.index(recs[0].because[0])] in because
    history = page.eval_on_selector_all("#user-history > li", "els => els.map(e => e.dataset.id)")
    assert len(history) == 18 and not set(history) & {r.id for r in recs}
    legend = page.text_content("#user-legend")
    assert "history" in legend and "recommended" in legend
    marks = page.evaluate("() => embspace.panes.a.plot.overlay.marks.map(m => m.kind)")
    assert marks.count("history") == 18 and marks.count("recommended") == 20
    page.wait_for_timeout(300)  # the overlay redraws on the next frame, after the view's flight
    page.wait_for_function("() => !embspace.panes.a.plot.pending")
    assert _ring_pixels(page, "#3fd0ff") > 50 and _ring_pixels(page, "#ff4fd8") > 50  # two colours on the map
    page.click("#user-clear")
    page.wait_for_function("document.body.dataset.user === undefined")
    assert page.evaluate("() => embspace.panes.a.plot.overlay.marks.length") == 0
    assert not page.problems, page.problems


def test_hostile_users_and_titles_stay_inert(items_served, page):
    from urllib.parse import quote

    hostile = items_served["hostile"]
    _open(page, items_served["url"] + f"#s=1&u={quote(XSS[0])}", hostile.n)
    page.wait_for_function(f"document.body.dataset.user === {XSS[0]!r}")
    assert page.text_content("#user-id") == XSS[0]
    titles = page.eval_on_selector_all("#user-history .go", "els => els.map(e => e.firstChild.textContent)")
    assert titles and set(titles) <= set(XSS)
    page.fill("#user-q", "<")
    page.press("#user-q", "Enter")
    page.wait_for_selector("#user-results:not([hidden]) button[data-user]")
    shown = page.eval_on_selector_all("#user-results button", "els => els.map(e => e.dataset.user)")
    assert set(shown) == {x for x in XSS if "<" in x}
    injected = page.evaluate("""() => ({
        elements: document.querySelectorAll('img, iframe, object, embed, b, i, script:not([src])').length,
        handlers: [...document.querySelectorAll('*')]
            .filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
    })""")
    assert injected == {"elements": 0, "handlers": 0}
    page.wait_for_timeout(300)
    assert not page.problems, page.problems  # no alert() dialog fired, no script error
