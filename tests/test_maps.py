"""Maps (embspace.reduce, `embspace map`): PCA / t-SNE / UMAP of real GloVe words, their trust,
the cache in the space folder, pictures (PNG, HTML) and the command's errors."""

import base64
import hashlib
import json
import os
import re
import shutil
import sys
import time
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

import embspace
from conftest import XSS
from embspace._sealed import sealed_bytes
from embspace.cli import main
from embspace.errors import CorruptSpaceError, EmbspaceError
from embspace.reduce import StaleMapError, get_or_make_map, list_maps, load_map, make_map, map_trust, save_map
from embspace.reduce._map import plan_map

# fewer iterations than the defaults keep the file fast; the maps are still real t-SNE / UMAP maps
FAST = {"pca": {}, "tsne": {"n_iter": 250, "early_exaggeration_iter": 125}, "umap": {"n_epochs": 200}}
SIZES = {2: 2000, 3: 1000}


@pytest.fixture(scope="module")
def maps(glove_small):
    """One map per method and dims of the most frequent GloVe words (made once for the module)."""
    return {
        (method, dims): make_map(glove_small, method, dims=dims, sample=SIZES[dims], **FAST[method])
        for method in ("pca", "tsne", "umap")
        for dims in (2, 3)
    }


@pytest.fixture
def space_path(tmp_path, glove_small):
    space = glove_small.head(3000)
    space.meta["length"] = [len(w) for w in space.ids]
    space.meta["kind"] = ["number" if w.isdigit() else "word" if w.isalpha() else "other" for w in space.ids]
    return embspace.save(space, tmp_path / "words.space")


def run(*args):
    return CliRunner().invoke(main, ["-q", *args], catch_exceptions=False)


# ---- the maps and their trust ----------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["pca", "tsne", "umap"])
@pytest.mark.parametrize("dims", [2, 3])
def test_maps_of_real_words(maps, method, dims):
    m = maps[method, dims]
    n = SIZES[dims]
    assert m.coords.shape == (n, dims) and m.coords.dtype == np.float32 and np.isfinite(m.coords).all()
    assert np.array_equal(m.rows, np.arange(n)) and m.sampling == "first"  # GloVe is in frequency order
    assert m.key.startswith(f"{method}-{dims}d-n{n}-s0")
    t = m.trust
    assert t["k"] == 10 and t["sample"] == min(2000, n) and t["point_trust"] == "all"
    assert 0.6 < t["trustworthiness"] <= 1.0 and 0.0 < t["knn_recall"] <= 1.0
    assert m.point_trust.shape == (n,) and np.isfinite(m.point_trust).all()
    assert t["knn_recall"] == pytest.approx(float(m.point_trust.mean()), abs=1e-6)  # sample = all points here


def test_pca_is_trusted_less_than_tsne_and_umap(maps):
    # measured: PCA 0.69 / 0.06 (trustworthiness / kNN recall), t-SNE 0.94 / 0.44, UMAP 0.92 / 0.35
    pca = maps["pca", 2].trust
    for method in ("tsne", "umap"):
        other = maps[method, 2].trust
        assert other["trustworthiness"] > pca["trustworthiness"] + 0.15
        assert other["knn_recall"] > pca["knn_recall"] + 0.2
    assert maps["pca", 3].trust["trustworthiness"] > pca["trustworthiness"]  # a third axis keeps more


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_trustworthiness_is_scikit_learns(glove_small, metric):
    from sklearn.manifold import trustworthiness

    x = np.asarray(glove_small.vectors[:600])
    coords = np.random.default_rng(1).normal(size=(600, 2)) + x[:, :2] * 3  # a poor but not random map
    trust, point = map_trust(x, coords, metric=metric, sample=600)
    assert trust["trustworthiness"] == pytest.approx(
        trustworthiness(x, coords, n_neighbors=10, metric=metric), abs=1e-6
    )
    # sampled: the same quantity, estimated
    sampled, _ = map_trust(x, coords, metric=metric, sample=300)
    assert sampled["trustworthiness"] == pytest.approx(trust["trustworthiness"], abs=0.02)


def test_point_trust_for_the_sample_only_then_completed(glove_small):
    every = make_map(glove_small, "pca", sample=1000, trust_sample=300, point_trust="all")
    m = make_map(glove_small, "pca", sample=1000, trust_sample=300, point_trust="sample")
    assert m.trust["point_trust"] == "sample" and m.trust["sample"] == 300
    assert np.count_nonzero(np.isfinite(m.point_trust)) == 300
    assert m.trust["knn_recall"] == pytest.approx(float(np.nanmean(m.point_trust)), abs=1e-6)
    assert m.trust["trustworthiness"] == every.trust["trustworthiness"]
    from embspace.reduce import complete_point_trust

    complete_point_trust(m, glove_small)
    assert m.trust["point_trust"] == "all" and np.array_equal(m.point_trust, every.point_trust)
    big = make_map(glove_small, "pca", sample=12_000, trust_sample=500)  # "auto": the sample only above 10,000
    assert big.trust["point_trust"] == "sample" and np.count_nonzero(np.isfinite(big.point_trust)) == 500


def test_random_sample_when_not_frequency_ordered(glove_small):
    space = glove_small.head(3000)
    space.info.pop("order", None)
    a = make_map(space, "pca", sample=500, seed=3)
    b = make_map(space, "pca", sample=500, seed=3)
    assert a.sampling == "random" and np.array_equal(a.rows, b.rows) and a.rows.max() > 500
    assert np.all(np.diff(a.rows) > 0)
    assert not np.array_equal(a.rows, make_map(space, "pca", sample=500, seed=4).rows)


def test_progress_is_reported(glove_small):
    seen = []
    make_map(glove_small, "pca", sample=500, progress=lambda fraction, message: seen.append((fraction, message)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and all(isinstance(m, str) for _, m in seen)


def test_keys_name_parameters_that_change_the_picture():
    key = lambda method, dims=2, sample=5000, seed=0, **p: plan_map(method, dims, sample, seed, p, 20000, "cosine").key  # noqa: E731
    assert key("umap") == "umap-2d-n5000-s0" and key("tsne", 3, None, 7) == "tsne-3d-n20000-s7"
    assert key("umap", n_neighbors=15) == key("umap")  # the default, given
    assert key("umap", n_jobs=-1) == key("umap")  # threads do not change the picture's key
    assert re.fullmatch(r"tsne-2d-n5000-s0-p[0-9a-f]{8}", key("tsne", perplexity=50))
    assert key("tsne", perplexity=50) != key("tsne", perplexity=40)
    assert key("umap", seed=None) == "umap-2d-n5000-snone"


@pytest.mark.parametrize(
    "call, message",
    [
        (dict(method="som"), "unknown map method 'som'; choose one of pca, tsne, umap"),
        (dict(dims=4), "dims must be 2 or 3; got 4"),
        (dict(sample=30_000), "sample=30,000 is larger than the space's 20,000 rows"),
        (dict(sample=10), "a map needs at least 30 points"),
        (dict(method="tsne", sample=60), "t-SNE with perplexity 30 needs more than 91 points; got 60"),
        (dict(method="umap", sample=40, n_neighbors=40), "UMAP with n_neighbors=40 needs more than 40 points"),
        (dict(method="umap", n_neighbours=5), "unknown umap parameter 'n_neighbours'"),
        (dict(seed=-1), "seed must be a non-negative integer"),
    ],
)
def test_bad_requests_say_what_to_do(glove_small, call, message):
    with pytest.raises(EmbspaceError, match=re.escape(message)):
        make_map(glove_small, **{"method": "pca", **call})


def test_a_missing_library_names_the_extra(glove_small, monkeypatch):
    monkeypatch.setitem(sys.modules, "openTSNE", None)
    with pytest.raises(EmbspaceError, match=r"pip install -e '.*\[explore\]'"):
        make_map(glove_small, "tsne", sample=200)


def test_importing_embspace_does_not_import_the_libraries():
    import subprocess

    code = (
        "import sys, embspace, embspace.reduce, embspace.cli; "
        "print([m for m in ('umap', 'openTSNE', 'sklearn', 'matplotlib', 'numba') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['numba']" or out.strip() == "[]"


# ---- the cache in the space folder --------------------------------------------------------------------------
def test_cache_is_reused_and_the_space_still_loads(space_path):
    first = get_or_make_map(space_path, "pca", sample=2000)
    assert not first.cached and (space_path / "maps" / first.key / "map.json").is_file()
    start = time.perf_counter()
    again = get_or_make_map(space_path, "pca", sample=2000)
    assert again.cached and time.perf_counter() - start < 0.5
    assert np.array_equal(again.coords, first.coords) and np.array_equal(again.rows, first.rows)
    assert np.array_equal(again.point_trust, first.point_trust) and again.trust == first.trust
    listed = list_maps(space_path)
    assert [m["key"] for m in listed] == [first.key] and listed[0]["stale"] is False
    assert listed[0]["trust"]["trustworthiness"] == first.trust["trustworthiness"]
    assert embspace.load(space_path).n == 3000  # maps/ is not in the manifest and breaks no check
    assert get_or_make_map(space_path, "pca", sample=2000, force=True).cached is False
    sampled = get_or_make_map(space_path, "pca", sample=2000, seed=1, trust_sample=500, point_trust="sample")
    assert sampled.trust["point_trust"] == "sample" and np.isnan(sampled.point_trust).sum() == 1500
    completed = get_or_make_map(space_path, "pca", sample=2000, seed=1, point_trust="all")
    assert completed.cached and completed.trust["point_trust"] == "all" and np.isfinite(completed.point_trust).all()
    assert load_map(space_path, completed.key).trust["point_trust"] == "all"  # the completed map was cached


def test_changed_vectors_make_a_map_stale(space_path, tmp_path):
    old = get_or_make_map(space_path, "pca", sample=2000)
    space = embspace.load(space_path)
    changed = embspace.Space(space.ids, np.asarray(space.vectors)[:, ::-1] * 2.0, space.meta, space.info)
    shutil.move(space_path / "maps", tmp_path / "kept-maps")
    embspace.save(changed, space_path, overwrite=True)  # replaces the folder (maps included); put the old maps back
    shutil.move(tmp_path / "kept-maps", space_path / "maps")
    assert list_maps(space_path) == []
    assert list_maps(space_path, include_stale=True)[0]["stale"] is True
    with pytest.raises(StaleMapError):
        load_map(space_path, old.key)
    new = get_or_make_map(space_path, "pca", sample=2000)
    assert not new.cached and not np.allclose(new.coords, old.coords)
    assert list_maps(space_path)[0]["stale"] is False
    old.vectors_sha256 = "0" * 64
    with pytest.raises(StaleMapError):
        save_map(space_path, old)


def test_damaged_or_unsafe_cache_files_are_refused(space_path):
    m = get_or_make_map(space_path, "pca", sample=500)
    folder = space_path / "maps" / m.key
    coords = folder / "coords.npy"
    data = bytearray(coords.read_bytes())
    data[-1] ^= 0xFF
    coords.write_bytes(bytes(data))
    with pytest.raises(CorruptSpaceError, match="coords.npy"):
        load_map(space_path, m.key)
    assert get_or_make_map(space_path, "pca", sample=500).cached is False  # drawn again and replaced
    # an object (pickle) array under a matching checksum is still refused before numpy reads it
    np.save(coords, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    info = json.loads((folder / "map.json").read_text())
    info["files"]["coords.npy"] = {
        "size": coords.stat().st_size,
        "sha256": hashlib.sha256(coords.read_bytes()).hexdigest(),
    }
    (folder / "map.json").write_bytes(sealed_bytes(info))
    with pytest.raises(CorruptSpaceError, match="expected float32"):
        load_map(space_path, m.key)
    for key in ("../../etc", "UMAP", "", "a/b"):
        with pytest.raises(EmbspaceError, match="is not a map key"):
            load_map(space_path, key)


def _edited(change, reseal=True):
    def edit(raw: bytes) -> bytes:
        info = json.loads(raw)
        checksum = info.pop("checksum")
        change(info)
        return sealed_bytes(info) if reseal else json.dumps(dict(info, checksum=checksum)).encode()

    return edit


@pytest.mark.parametrize(
    "edit, message",
    [
        (_edited(lambda i: i.update(space_n="20000"), reseal=False), "checksum does not match"),
        (_edited(lambda i: i["trust"].update(trustworthiness=0.999), reseal=False), "checksum does not match"),
        (_edited(lambda i: i.update(space_n="20000")), "field 'space_n' is '20000'"),
        (_edited(lambda i: i.update(format_version=99)), "format version 99; this embspace reads version 2"),
        (_edited(lambda i: i.update(method="umapp")), "field 'method'"),
        (_edited(lambda i: i.update(n=-5)), "field 'n'"),
        (_edited(lambda i: i.__setitem__("dimz", i.pop("dims"))), "lacks the 'dims' field"),
        (_edited(lambda i: i.update(files=["coords.npy"])), "field 'files'"),
        (_edited(lambda i: i["files"].update({"coords.npy": "x"})), "field 'files'"),
        (_edited(lambda i: i.update(seed=-1)), "field 'seed'"),
        (_edited(lambda i: i.update(n=i["space_n"] + 1)), "other points"),
        (lambda raw: b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (lambda raw: raw.replace(b'"dims": 2', b'"dims": ' + b"9" * 5000), "not valid JSON"),
        (lambda raw: raw[: len(raw) // 2], "not valid JSON"),
    ],
)
def test_a_damaged_or_hand_edited_map_json_is_refused_and_redrawn(space_path, edit, message):
    m = get_or_make_map(space_path, "pca", sample=500)
    path = space_path / "maps" / m.key / "map.json"
    path.write_bytes(edit(path.read_bytes()))
    with pytest.raises(CorruptSpaceError, match=re.escape(message)) as refused:
        load_map(space_path, m.key)
    assert "draw the map again" in str(refused.value)
    assert list_maps(space_path) == []  # a damaged map is not offered
    again = get_or_make_map(space_path, "pca", sample=500)
    assert again.cached is False and load_map(space_path, m.key).n == again.n  # drawn again and replaced


def test_map_json_that_is_not_a_regular_file_is_refused(space_path):
    m = get_or_make_map(space_path, "pca", sample=500)
    path = space_path / "maps" / m.key / "map.json"
    path.unlink()
    path.symlink_to("/dev/zero")
    with pytest.raises(CorruptSpaceError, match="not a regular file|cannot be opened"):
        load_map(space_path, m.key)
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(CorruptSpaceError, match="not a regular file"):
        load_map(space_path, m.key)


# ---- pictures ------------------------------------------------------------------------------------------------
def _ink(path):
    import matplotlib.image

    img = matplotlib.image.imread(str(path))[..., :3]
    return float(np.mean(img.min(axis=2) < 0.9)), float(img.std())


def test_png_2d_with_categories_and_3d_with_trust(space_path, tmp_path):
    out = tmp_path / "map.png"
    result = run("map", str(space_path), "--method", "pca", "--sample", "2000", "--color", "kind", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "trustworthiness" in result.output and f"wrote {out}" in result.output
    ink, spread = _ink(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and ink > 0.01 and spread > 0.05
    out3 = tmp_path / "map3.png"
    assert (
        run(
            "map",
            str(space_path),
            "--method",
            "pca",
            "--dims",
            "3",
            "--color",
            "trust",
            "--labels",
            "10",
            "-o",
            str(out3),
        ).exit_code
        == 0
    )
    assert _ink(out3)[0] > 0.01
    assert run("map", str(space_path), "--method", "pca", "--color", "length", "-o", str(out3)).exit_code == 1
    assert (
        run("map", str(space_path), "--method", "pca", "--color", "length", "-o", str(out3), "--force").exit_code == 0
    )


# ids in scripts matplotlib's own font lacks (Han, Hangul, Devanagari, Thai) and ones it has
NON_LATIN = {"東京": "cjk", "서울": "cjk", "हिन्दी": "core", "กรุงเทพ": "core", "القاهرة": None, "Москва": None}
FONT_FILES = {"cjk": "NotoSansCJK*", "core": "NotoSans-Regular*"}


def _installed(kind: str) -> bool:
    """Whether the Debian package's fonts are here (fonts-noto-cjk, fonts-noto-core), looked up
    without embspace: the answer the picture must agree with."""
    from pathlib import Path

    return any(any(Path(root).rglob(FONT_FILES[kind])) for root in ("/usr/share/fonts", "/usr/local/share/fonts"))


def _drawn_labels(monkeypatch) -> list[str]:
    """Record every text written on a 2-D picture's axes."""
    from matplotlib.axes import Axes

    drawn: list[str] = []
    original = Axes.text

    def text(self, x, y, s, *args, **kwargs):
        drawn.append(str(s).strip("\u200e "))
        return original(self, x, y, s, *args, **kwargs)

    monkeypatch.setattr(Axes, "text", text)
    return drawn


def test_png_draws_non_latin_ids_or_names_the_ones_it_cannot(tmp_path, monkeypatch):
    # a 6 x 5 grid, far apart for labels; the non-Latin ids in the middle columns (a PCA axis may flip)
    grid = [(x, y) for x in (2, 3, 0, 1, 4, 5) for y in range(5)]
    ids = list(NON_LATIN) + [f"w{i}" for i in range(len(grid) - len(NON_LATIN))]
    vectors = np.zeros((len(grid), 8))
    vectors[:, :2] = np.array(grid, dtype=float) * [1.0, 0.8]
    space = embspace.save(embspace.Space(ids, vectors, metric="euclidean"), tmp_path / "cities.space")
    drawn = _drawn_labels(monkeypatch)
    out = tmp_path / "cities.png"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run("map", str(space), "--method", "pca", "--labels", "200", "-o", str(out))
    assert result.exit_code == 0, result.output
    leaked = [str(w.message) for w in caught if "Glyph" in str(w.message) or "findfont" in str(w.message)]
    assert not leaked and "Glyph" not in result.output  # no matplotlib warning per missing glyph
    unlabelled = [i for i, kind in NON_LATIN.items() if kind and not _installed(kind)]
    if unlabelled:  # one line that names the ids it could not draw and the fonts that would
        line = next(x for x in result.stderr.splitlines() if x.startswith("warning:"))
        assert all(i in line for i in unlabelled) and "fonts-noto-cjk" in line
        assert not any(i in line for i in NON_LATIN if i not in unlabelled)
        assert not set(unlabelled) & set(drawn)  # no empty boxes on the picture
    else:
        assert "warning" not in result.stderr
    assert set(NON_LATIN) - set(unlabelled) <= set(drawn)  # every id a font has is labelled
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_png_labels_of_a_text_space_are_its_texts(tmp_path, monkeypatch):
    from embspace.reduce._draw import draw_png

    texts = [
        f"Sentence {i}: the quick brown fox jumps over the lazy dog near river {i}\nand then sleeps" for i in range(40)
    ]
    rng = np.random.default_rng(1)
    space = embspace.Space([f"d{i:04d}" for i in range(40)], rng.normal(size=(40, 8)), meta={"text": texts})
    drawn = _drawn_labels(monkeypatch)
    draw_png(make_map(space, "pca", 2), space, tmp_path / "texts.png", labels=40)
    labels = [t for t in drawn if not t.startswith("texts") and ":" in t]
    assert labels and all(t.startswith("Sentence ") and t.endswith("\u2026") and len(t) <= 32 for t in labels)
    assert not any(t.startswith("d00") for t in drawn)  # the ids are not what a reader wants to see
    from embspace.reduce._draw import shorten
    from embspace.reduce._html import render_html

    assert shorten("a  b\tc") == "a b c" and shorten("word " * 20, 12) == "word word\u2026"
    page = render_html(make_map(space, "pca", 2), space)  # the HTML map labels them the same way
    data = json.loads(re.search(r'<script type="application/json" id="map-data">(.*?)</script>', page, re.S).group(1))
    assert data["names"][3] == shorten(texts[3]) and data["ids"][3] == "d0003"


@pytest.fixture
def xss_space(tmp_path, glove_small):
    space = glove_small.head(200)
    ids = list(space.ids)
    ids[: len(XSS)] = XSS
    return embspace.save(embspace.Space(ids, space.vectors, info=space.info), tmp_path / "xss.space")


def test_html_keeps_hostile_ids_inert(xss_space, tmp_path):
    out = tmp_path / "map.html"
    assert run("map", str(xss_space), "--method", "pca", "-o", str(out)).exit_code == 0
    page = out.read_text(encoding="utf-8")
    for bad in ("<img src=x", "</script><script>alert", "<!--", "\u2028"):
        assert bad not in page
    assert page.count("</script>") == 2 and page.count("<script") == 2  # the data block and the code
    block = re.search(r'<script type="application/json" id="map-data">(.*?)</script>', page, re.S).group(1)
    data = json.loads(block)
    assert data["ids"][: len(XSS)] == XSS and data["n"] == 200
    coords = np.frombuffer(base64.b64decode(data["coords"]), dtype="<f4").reshape(200, 2)
    assert np.array_equal(coords, load_map(xss_space, "pca-2d-n200-s0").coords)
    # only the page's own script may run: its hash is in the Content-Security-Policy
    script = re.search(r"<script>(.*?)</script>", page, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in page and "innerHTML" not in script


def test_html_in_a_browser(xss_space, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    from pathlib import Path

    if not Path("/usr/bin/chromium").exists():
        pytest.skip("no /usr/bin/chromium")
    out = tmp_path / "map.html"
    assert run("map", str(xss_space), "--method", "pca", "-o", str(out)).exit_code == 0
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        page = browser.new_page(viewport={"width": 900, "height": 700})
        problems = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("dialog", lambda d: (problems.append("dialog: " + d.message), d.dismiss()))
        page.goto(out.as_uri())
        assert "trustworthiness" in page.text_content("#trustbadge")  # the script ran under its CSP
        page.fill("#search", XSS[0])
        page.press("#search", "Enter")  # centres the point and marks it
        page.wait_for_timeout(300)
        page.mouse.move(450, 350)
        page.mouse.wheel(0, -1500)  # zoom in about the point, so no neighbour is nearer the cursor
        page.wait_for_timeout(300)
        page.mouse.move(451, 351)
        page.wait_for_timeout(200)
        assert page.text_content("#tip").startswith(XSS[0])  # shown as text
        assert page.locator("img").count() == 0 and page.locator("#bar script").count() == 0
        shot = page.screenshot()
        browser.close()
    assert problems == []
    assert len(shot) > 10_000  # points and labels were drawn


# ---- the command ---------------------------------------------------------------------------------------------
def test_cli_draws_then_reuses_and_prints_json(space_path):
    first = run("map", str(space_path), "--method", "pca", "--sample", "1000")
    assert first.exit_code == 0 and "pca-2d-n1000-s0" in first.output and "drawn in" in first.output
    assert "trustworthiness" in first.output and "kNN recall@10" in first.output
    again = json.loads(run("map", str(space_path), "--method", "pca", "--sample", "1000", "--json").output)
    assert again["cached"] is True and again["n"] == 1000 and again["key"] == "pca-2d-n1000-s0"
    assert set(again["trust"]) >= {"trustworthiness", "knn_recall", "k", "sample"}
    assert "cached" in run("map", str(space_path), "--method", "pca", "--sample", "1000").output
    assert (
        json.loads(run("map", str(space_path), "--method", "pca", "--sample", "1000", "--recompute", "--json").output)[
            "cached"
        ]
        is False
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--method", "som"], "Invalid value for '--method'"),
        (["--dims", "4"], "--dims must be 2 or 3; got 4"),
        (["--sample", "5000"], "sample=5,000 is larger than the space's 3,000 rows"),
        (["--sample", "5"], "a map needs at least 30 points"),
        (["--method", "tsne", "--sample", "50"], "t-SNE with perplexity 30 needs more than 91 points"),
        (
            ["--color", "colour", "-o", "{tmp}/m.png"],
            "unknown colour column 'colour'; the space's metadata columns: length, kind",
        ),
        (["-o", "{tmp}/m.jpg"], "the name must end in .png or .html"),
        (["-o", "{tmp}/no/such/folder/m.png"], "does not exist"),
        (["-o", "{tmp}/exists.png"], "exists; pass --force to replace it"),
        (["/no/such.space"], "no such space"),
    ],
)
def test_cli_errors_are_one_line_and_write_nothing(space_path, tmp_path, args, message):
    (tmp_path / "exists.png").write_bytes(b"keep")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    target = [] if args[0].startswith("/no/") else [str(space_path)]
    result = CliRunner().invoke(
        main,
        ["-q", "map", *target, "--method", "pca", *args] if "--method" not in args else ["-q", "map", *target, *args],
    )
    assert result.exit_code != 0
    assert message in result.output, result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.startswith("Error")]) == 1
    assert not (space_path / "maps").exists()  # nothing was drawn
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists.png", "words.space"]
    assert (tmp_path / "exists.png").read_bytes() == b"keep"


# ---- thumbnails of a space of images (issue 13) -------------------------------------------------------
MAGENTA = (230, 0, 200)


def _magenta_pixels(path) -> int:
    from PIL import Image

    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.int64)
    return int(np.count_nonzero(np.abs(rgb - np.array(MAGENTA)).max(axis=2) < 40))


def test_png_thumbnails_draw_the_pictures_in_place_of_dots(tmp_path):
    from _thumbspace import image_space

    path = embspace.save(image_space(300, ink=MAGENTA), tmp_path / "digits.space")
    plain, pictures = tmp_path / "plain.png", tmp_path / "pictures.png"
    assert run("map", str(path), "--method", "pca", "--color", "label", "-o", str(plain)).exit_code == 0
    result = run("map", str(path), "--method", "pca", "--color", "label", "--thumbnails", "-o", str(pictures))
    assert result.exit_code == 0 and "wrote" in result.output, result.output
    assert _magenta_pixels(plain) == 0
    # a 32 px digit shows ~100 ink pixels at 50 px; dozens of pictures fit without overlapping
    assert _magenta_pixels(pictures) > 30 * 100
    run("map", str(path), "--method", "pca", "--dims", "3", "--thumbnails", "-o", str(tmp_path / "3d.png"))
    assert _magenta_pixels(tmp_path / "3d.png") > 10 * 100


def test_thumbnail_placement_never_overlaps_and_leaves_no_room_unused():
    from embspace.reduce._draw import place_squares

    rng = np.random.default_rng(0)
    centres = rng.uniform(0, 500, size=(3000, 2))
    side, bounds = 40.0, (0.0, 0.0, 500.0, 500.0)

    class Box:
        x0, y0, x1, y1 = 400.0, 400.0, 500.0, 500.0  # a legend

    kept = place_squares(centres, side, bounds, [Box()])
    k = centres[kept]
    apart = (np.abs(k[:, None, 0] - k[None, :, 0]) >= side) | (np.abs(k[:, None, 1] - k[None, :, 1]) >= side)
    assert apart[~np.eye(len(k), dtype=bool)].all() and len(kept) > 50
    assert not ((k[:, 0] + side / 2 > 400) & (k[:, 1] + side / 2 > 400)).any()
    for j in sorted(set(range(len(centres))) - set(kept))[:300]:  # greedy: each left out meets a kept one
        x, y = centres[j]
        inside = side / 2 <= x <= 500 - side / 2 and side / 2 <= y <= 500 - side / 2
        clash = ((np.abs(k[:, 0] - x) < side) & (np.abs(k[:, 1] - y) < side)).any()
        assert clash or not inside or (x + side / 2 > 400 and y + side / 2 > 400)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--thumbnails", "-o", "{tmp}/m.png"], "keeps no thumbnails, which --thumbnails needs"),
        (["--thumbnails", "-o", "{tmp}/m.html"], "--thumbnails draws on a PNG picture"),
        (["--thumbnails"], "--thumbnails draws on a PNG picture"),
    ],
)
def test_thumbnails_errors_are_one_line_and_write_nothing(small_space, tmp_path, args, message):
    path = embspace.save(small_space, tmp_path / "small.space")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = CliRunner().invoke(main, ["-q", "map", str(path), "--method", "pca", *args])
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.startswith("Error")]) == 1
    assert not (path / "maps").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["small.space"]
