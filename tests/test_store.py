import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

import embspace
from embspace import CorruptSpaceError, EmbspaceError, _writers, store
from embspace._blocks import hash_file
from embspace._files import sha256_file
from embspace._sealed import checksum
from embspace.errors import SpaceError


def test_round_trip_is_exact(small_space, tmp_path):
    path = embspace.save(small_space, tmp_path / "s.space")
    loaded = embspace.load(path)
    assert loaded.ids == small_space.ids and loaded.meta == small_space.meta
    np.testing.assert_array_equal(loaded.vectors, small_space.vectors)
    assert not loaded.vectors.flags.owndata and not loaded.vectors.flags.writeable  # a read-only map of the file
    assert loaded.info["name"] == "small" and loaded.metric == "cosine"
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["format_version"] == 2 and manifest["n"] == 50 and manifest["dim"] == 8
    assert set(manifest["files"]) == {"vectors.npy", "items.parquet", "idhash.npy", "norms.npy"}
    for name, entry in manifest["files"].items():
        assert entry["size"] == (path / name).stat().st_size and len(entry["sha256"]) == 64
        assert len(entry["blocks"]["sums"]) == -(-entry["size"] // entry["blocks"]["size"])
    assert embspace.load(path, mmap=False).vectors.flags.owndata
    assert [p.name for p in tmp_path.iterdir()] == ["s.space"]  # no temp folders left


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _truncate(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


@pytest.mark.parametrize("name", ["vectors.npy", "items.parquet", "manifest.json"])
@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_files_never_load_silently(small_space, tmp_path, name, damage):
    path = embspace.save(small_space, tmp_path / "s.space")
    target = path / name
    size = target.stat().st_size
    if damage == "truncate":
        _truncate(target, size // 2)
    else:
        _flip(target, size - 40 if name != "manifest.json" else size // 2)
    with pytest.raises(CorruptSpaceError) as err:
        space = embspace.load(path)  # opening reads no vectors: a flipped one is refused where it is read,
        space.neighbors("w1", k=3)  # before any result
    assert name in str(err.value)


def test_flip_inside_manifest_value_is_caught(small_space, tmp_path):
    path = embspace.save(small_space, tmp_path / "s.space")
    text = (path / "manifest.json").read_text().replace('"metric": "cosine"', '"metric": "dot"')
    (path / "manifest.json").write_text(text)
    with pytest.raises(CorruptSpaceError, match="manifest.json: checksum"):
        embspace.load(path)


def test_size_is_checked_even_without_hashing(small_space, tmp_path):
    path = embspace.save(small_space, tmp_path / "s.space")
    _truncate(path / "vectors.npy", 100)
    with pytest.raises(CorruptSpaceError, match="truncated"):
        embspace.load(path, verify=False)


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _rewrite_manifest_for(path: Path, name: str) -> None:
    """Make the manifest agree with a swapped file, as an attacker would."""
    manifest = json.loads((path / "manifest.json").read_text())
    manifest.pop("checksum")
    block = manifest["files"].get(name, {}).get("blocks", {}).get("size", 1 << 20)
    manifest["files"][name] = hash_file(path / name, block)
    manifest["checksum"] = checksum(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("verify", [True, False])
def test_pickle_renamed_to_vectors_is_refused_unexecuted(small_space, tmp_path, verify):
    path = embspace.save(small_space, tmp_path / "s.space")
    marker = tmp_path / "pwned"
    (path / "vectors.npy").write_bytes(pickle.dumps(_Payload(str(marker))))
    _rewrite_manifest_for(path, "vectors.npy")
    with pytest.raises(CorruptSpaceError, match="vectors.npy"):
        embspace.load(path, verify=verify)
    # an object-dtype .npy (which numpy would unpickle) is refused by its header too
    np.save(path / "vectors.npy", np.array([_Payload(str(marker))], dtype=object), allow_pickle=True)
    _rewrite_manifest_for(path, "vectors.npy")
    with pytest.raises(CorruptSpaceError, match="expected float32"):
        embspace.load(path, verify=verify)
    assert not marker.exists()


def test_wrong_shape_vectors_refused(small_space, tmp_path):
    path = embspace.save(small_space, tmp_path / "s.space")
    np.save(path / "vectors.npy", np.zeros((50, 9), dtype=np.float32))
    _rewrite_manifest_for(path, "vectors.npy")
    with pytest.raises(CorruptSpaceError, match=r"expected float32 \(50, 8\)"):
        embspace.load(path)


def test_interrupted_save_over_existing_space_keeps_the_old(small_space, tmp_path, monkeypatch):
    path = embspace.save(small_space, tmp_path / "s.space")
    newer = small_space.subset(slice(0, 10))

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "_write_items", boom)
    with pytest.raises(KeyboardInterrupt):
        embspace.save(newer, path, overwrite=True)
    assert embspace.load(path).n == 50
    assert [p.name for p in tmp_path.iterdir()] == ["s.space"]
    monkeypatch.undo()
    embspace.save(newer, path, overwrite=True)
    assert embspace.load(path).n == 10 and [p.name for p in tmp_path.iterdir()] == ["s.space"]


def test_interrupted_between_renames_keeps_a_loadable_space(small_space, tmp_path, monkeypatch):
    path = embspace.save(small_space, tmp_path / "s.space")
    monkeypatch.setattr(_writers, "rename_exchange_dirs", lambda a, b: False)  # the two-rename fallback
    embspace.save(small_space.head(5), path, overwrite=True)
    assert embspace.load(path).n == 5


def test_save_refuses_to_replace_a_non_space(small_space, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "keep.txt").write_text("precious")
    with pytest.raises(EmbspaceError, match="not a .space folder"):
        embspace.save(small_space, tmp_path / "docs")
    assert (tmp_path / "docs" / "keep.txt").read_text() == "precious"
    with pytest.raises(EmbspaceError, match="does not exist"):
        embspace.save(small_space, tmp_path / "missing" / "s.space")


def test_save_refuses_to_replace_a_space_unless_asked(small_space, tmp_path):
    """Replacing a space drops its cached maps and indexes: only with overwrite=True (the CLI's --force)."""
    path = embspace.save(small_space, tmp_path / "s.space")
    (path / "maps").mkdir()
    with pytest.raises(EmbspaceError, match=r"s\.space exists; pass overwrite=True to replace it$"):
        embspace.save(small_space.head(5), path)
    assert embspace.load(path).n == 50 and (path / "maps").is_dir()
    embspace.save(small_space.head(5), path, overwrite=True)
    assert embspace.load(path).n == 5 and not (path / "maps").exists()


def test_load_errors(tmp_path):
    with pytest.raises(EmbspaceError, match="no such folder"):
        embspace.load(tmp_path / "nothing.space")
    (tmp_path / "empty.space").mkdir()
    with pytest.raises(CorruptSpaceError, match="manifest.json: missing"):
        embspace.load(tmp_path / "empty.space")


def test_missing_file_named(small_space, tmp_path):
    path = embspace.save(small_space, tmp_path / "s.space")
    os.remove(path / "items.parquet")
    with pytest.raises(CorruptSpaceError, match="items.parquet: missing"):
        embspace.load(path)


def test_info_numpy_values_are_stored(small_space, tmp_path):
    small_space.info["seed"] = np.int64(3)
    small_space.info["where"] = tmp_path
    loaded = embspace.load(embspace.save(small_space, tmp_path / "s.space"))
    assert loaded.info["seed"] == 3 and loaded.info["where"] == str(tmp_path)
    shutil.rmtree(tmp_path / "s.space")


@pytest.mark.slow
def test_glove_round_trip(glove, tmp_path):
    path = embspace.save(glove, tmp_path / "g.space")
    loaded = embspace.load(path)
    assert loaded.n == 400_000 and loaded.ids[:3] == ["the", ",", "."]
    np.testing.assert_array_equal(loaded.vectors[::997], glove.vectors[::997])


def test_extras_round_trip_and_are_checked(small_space, tmp_path):
    small_space.extras["subwords"] = np.arange(12, dtype=np.float32).reshape(4, 3)
    path = embspace.save(small_space, tmp_path / "s.space")
    loaded = embspace.load(path)
    np.testing.assert_array_equal(loaded.extras["subwords"], small_space.extras["subwords"])
    assert loaded.subset(["w1"]).extras.keys() == {"subwords"}
    _flip(path / "extras" / "subwords.npy", 130)
    with pytest.raises(CorruptSpaceError, match="subwords.npy"):
        embspace.load(path)


def test_unsafe_extra_name_refused(small_space, tmp_path):
    path = embspace.save(small_space, tmp_path / "s.space")
    np.save(tmp_path / "outside.npy", np.zeros((2, 2), dtype=np.float32))
    manifest = json.loads((path / "manifest.json").read_text())
    manifest.pop("checksum")
    manifest["files"]["extras/../../outside.npy"] = {"size": 144, "sha256": sha256_file(tmp_path / "outside.npy")}
    manifest["checksum"] = checksum(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CorruptSpaceError, match="unsafe"):
        embspace.load(path)


# ---- hand-made and hostile manifests (issue 12, items 3 and 4) ----------------------------------
def _resign(path: Path, change) -> None:
    """Apply `change` to the manifest and give it a valid checksum, as a careful forger would."""
    manifest = json.loads((path / "manifest.json").read_text())
    manifest.pop("checksum")
    change(manifest)
    manifest["checksum"] = checksum(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


_FORGED = {
    "files as a list": lambda m: m.update(files=list(m["files"])),
    "entry as a string": lambda m: m["files"].update({"items.parquet": "abc"}),
    "entry without size": lambda m: m["files"]["vectors.npy"].pop("size"),
    "size as a string": lambda m: m["files"]["vectors.npy"].update(size="2048"),
    "sha256 as a number": lambda m: m["files"]["vectors.npy"].update(sha256=5),
    "n as a string": lambda m: m.update(n="50"),
    "n negative": lambda m: m.update(n=-1),
    "dim zero": lambda m: m.update(dim=0),
    "dim as true": lambda m: m.update(dim=True),
    "version as true": lambda m: m.update(format_version=True),
    "version 99": lambda m: m.update(format_version=99),
    "metric as a list": lambda m: m.update(metric=["cosine"]),
    "info as a list": lambda m: m.update(info=[1, 2]),
    "meta_columns as a string": lambda m: m.update(meta_columns="pos"),
    "dtype float64": lambda m: m.update(dtype="float64"),
}


@pytest.mark.parametrize("case", list(_FORGED))
def test_forged_manifest_fields_are_refused_in_one_line(small_space, tmp_path, case):
    path = embspace.save(small_space, tmp_path / "s.space")
    _resign(path, _FORGED[case])
    for read in (embspace.load, store.read_manifest):
        with pytest.raises(CorruptSpaceError, match="manifest.json") as err:
            read(path)
        assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"format": "embspace.space", "info": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"format": "embspace.space", "n": ' + "7" * 5_000 + "}",
        '{"format": "embspace.space", "n": NaN}',
    ],
    ids=["nested", "nested-info", "5000-digits", "nan"],
)
def test_hostile_manifest_json_is_refused(small_space, tmp_path, text):
    path = embspace.save(small_space, tmp_path / "s.space")
    (path / "manifest.json").write_text(text)
    with pytest.raises(CorruptSpaceError, match="manifest.json"):
        embspace.load(path)


def test_oversized_manifest_is_refused_unread(small_space, tmp_path, monkeypatch):
    path = embspace.save(small_space, tmp_path / "s.space")
    monkeypatch.setattr(store, "MAX_MANIFEST_BYTES", 100)
    with pytest.raises(CorruptSpaceError, match="more than the 100"):
        embspace.load(path)


def test_cli_info_on_a_forged_manifest_is_one_line(small_space, tmp_path):
    from click.testing import CliRunner

    from embspace.cli import main

    path = embspace.save(small_space, tmp_path / "s.space")
    _resign(path, _FORGED["entry without size"])
    result = CliRunner().invoke(main, ["info", str(path)])
    assert result.exit_code != 0 and "manifest.json" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, KeyError)


def _write_npy_header(dest: Path, shape: tuple, payload: int = 400) -> None:
    with open(dest, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False, "shape": shape})
        fh.write(b"\0" * payload)


@pytest.mark.parametrize("shape", [(-1, 50), (10**12, 50), (3, 50), (50, -8)], ids=str)
@pytest.mark.parametrize("mmap", [True, False])
def test_npy_shape_must_match_the_file_size(small_space, tmp_path, shape, mmap):
    small_space.extras["subwords"] = np.zeros((2, 3), dtype=np.float32)
    path = embspace.save(small_space, tmp_path / "s.space")
    _write_npy_header(path / "extras" / "subwords.npy", shape)
    _rewrite_manifest_for(path, "extras/subwords.npy")
    with pytest.raises(CorruptSpaceError, match="subwords.npy"):
        embspace.load(path, mmap=mmap)


def test_vectors_header_must_match_the_file_size(small_space, tmp_path):
    path = embspace.save(small_space, tmp_path / "s.space")
    data = (path / "vectors.npy").read_bytes()
    (path / "vectors.npy").write_bytes(data[:-32])  # header still says (50, 8)
    _rewrite_manifest_for(path, "vectors.npy")
    with pytest.raises(CorruptSpaceError, match="header declares"):
        embspace.load(path, mmap=False)


def test_manifest_as_a_folder_is_refused(small_space, tmp_path):
    path = embspace.save(small_space, tmp_path / "s.space")
    os.remove(path / "manifest.json")
    (path / "manifest.json").mkdir()
    with pytest.raises(CorruptSpaceError, match="manifest.json"):
        embspace.load(path)


def _load_in_thread(path: Path) -> BaseException | None:
    """Load `path` off the test's thread so a regression (a read that never ends) fails instead of hanging."""
    import threading

    outcome: list = []

    def target():
        try:
            embspace.load(path)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(10)
    assert outcome, "load did not return (it read a device or waited on a pipe)"
    return outcome[0]


@pytest.mark.parametrize("name", ["manifest.json", "vectors.npy", "items.parquet"])
@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "symlink-to-copy"])
def test_only_regular_files_are_opened(small_space, tmp_path, name, kind):
    """Devices and pipes are refused before any read; symlinked files too, even to a regular file."""
    path = embspace.save(small_space, tmp_path / "s.space")
    target = path / name
    if kind == "fifo":
        target.unlink()
        os.mkfifo(target)
    elif kind == "dev-zero":
        target.unlink()
        target.symlink_to("/dev/zero")
    else:
        shutil.copy(target, tmp_path / "copy")
        target.unlink()
        target.symlink_to(tmp_path / "copy")
    err = _load_in_thread(path)
    assert isinstance(err, CorruptSpaceError) and name in str(err)


def test_a_symlinked_space_folder_loads(small_space, tmp_path):
    path = embspace.save(small_space, tmp_path / "s.space")
    (tmp_path / "link.space").symlink_to(path, target_is_directory=True)
    assert embspace.load(tmp_path / "link.space").n == 50
    assert store.read_manifest(tmp_path / "link.space")["n"] == 50


# ---- killed and racing writers (issue 12, item 5) -----------------------------------------------
def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: its pid names no process (until the system reuses it)
    return child.pid


def _temp_folder(parent: Path, suffix: str, owner: dict | None) -> Path:
    import socket

    folder = parent / f".s.space.tmp-{suffix}"
    folder.mkdir()
    (folder / "vectors.npy").write_bytes(b"\0" * 1000)
    if owner is not None:
        (folder / ".writer").write_text(json.dumps({"host": socket.gethostname(), **owner}))
    return folder


def test_next_save_removes_temp_folders_of_dead_writers(small_space, tmp_path):
    dead = _temp_folder(tmp_path, "dead0001", {"pid": _dead_pid()})
    alive = _temp_folder(tmp_path, "alive001", {"pid": os.getpid()})
    elsewhere = _temp_folder(tmp_path, "other001", {"pid": _dead_pid(), "host": "another-host"})
    ownerless = _temp_folder(tmp_path, "noowner1", None)
    group = _temp_folder(tmp_path, "group001", {"pid": 0})  # never signalled (0 would be our process group)
    embspace.save(small_space, tmp_path / "s.space")
    assert not dead.exists()
    assert alive.exists() and elsewhere.exists() and ownerless.exists() and group.exists()
    assert embspace.load(tmp_path / "s.space").n == 50 and not (tmp_path / "s.space" / ".writer").exists()


def test_sigkilled_save_leaves_a_temp_folder_the_next_save_removes(small_space, tmp_path):
    import subprocess
    import sys

    path = embspace.save(small_space, tmp_path / "s.space")
    script = (
        "import os, signal, sys, embspace\n"
        "from embspace import store\n"
        "space = embspace.load(sys.argv[1])\n"
        "store._write_items = lambda *a: os.kill(os.getpid(), signal.SIGKILL)\n"
        "embspace.save(space, sys.argv[1], overwrite=True)\n"
    )
    killed = subprocess.run([sys.executable, "-c", script, str(path)], timeout=60)
    assert killed.returncode == -9
    left = [p.name for p in tmp_path.iterdir() if p.name.startswith(".s.space.tmp-")]
    assert len(left) == 1  # the killed writer's folder
    embspace.save(small_space.head(5), path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.space"] and embspace.load(path).n == 5


@pytest.mark.parametrize("overwrite", [False, True])
def test_racing_first_saves_end_in_one_complete_space(small_space, tmp_path, overwrite):
    import threading

    path, writers = tmp_path / "s.space", 8
    barrier, outcomes = threading.Barrier(writers), []

    def write(k):
        barrier.wait()
        try:
            embspace.save(small_space.head(10 + k), path, overwrite=overwrite)
            outcomes.append("saved")
        except BaseException as exc:  # noqa: BLE001 - judged below
            outcomes.append(exc)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    errors = [e for e in outcomes if e != "saved"]
    assert len(outcomes) == writers
    assert all(type(e) is EmbspaceError and "exists" in str(e) for e in errors), errors
    assert outcomes.count("saved") == (writers if overwrite else 1)
    assert 10 <= embspace.load(path).n < 10 + writers
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.space"]  # no temp folder, no lock file left


# ---- content behind valid checksums (issue 12 #9) -------------------------------------------------
def _forge_content(path: Path, ids=None, vectors=None) -> None:
    """Replace ids and/or vectors with valid files and a manifest that agrees, as a careful forger would."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if ids is not None:
        pq.write_table(pa.table({"id": pa.array(ids, type=pa.string())}), path / "items.parquet")
        _rewrite_manifest_for(path, "items.parquet")
    if vectors is not None:
        np.save(path / "vectors.npy", np.asarray(vectors, dtype=np.float32))
        _rewrite_manifest_for(path, "vectors.npy")


def test_nan_vectors_behind_valid_checksums_are_refused(small_space, tmp_path):
    path = tmp_path / "s.space"
    embspace.save(small_space, path)
    vectors = np.array(small_space.vectors)
    vectors[7, 3] = np.nan
    _forge_content(path, vectors=vectors)
    space = embspace.load(path)  # opening reads no vectors; the first read of that block refuses them
    for read in (lambda: space.vector("w7"), lambda: space.neighbors("w1"), lambda: space.vectors):
        with pytest.raises(CorruptSpaceError, match=r"vectors\.npy: row 7 holds NaN or Inf"):
            read()
    with pytest.raises(CorruptSpaceError, match=r"vectors\.npy: row 7 holds NaN or Inf"):
        embspace.load(path, verify="full")
    assert embspace.load(path, verify=False).n == small_space.n  # the fast path trusts the sizes only


@pytest.mark.parametrize("bad, message", [(None, "null id at row 2"), ("", "empty id at row 2")])
def test_null_or_empty_ids_behind_valid_checksums_are_refused(small_space, tmp_path, bad, message):
    path = tmp_path / "s.space"
    embspace.save(small_space, path)
    ids = list(small_space.ids)
    ids[2] = bad
    _forge_content(path, ids=ids)
    for verify in (True, False):
        space = embspace.load(path, verify=verify)  # ids are read when first used, and checked as they are
        for read in (lambda s=space: s.ids, lambda s=space: s.index("w3"), lambda s=space: s.neighbors("w1")):
            with pytest.raises(CorruptSpaceError, match=message):
                read()
    with pytest.raises(CorruptSpaceError, match=message):
        embspace.load(path, verify="full")


def test_verify_command_checks_content_and_duplicate_ids(small_space, tmp_path):
    from click.testing import CliRunner

    from embspace.cli import main

    path = tmp_path / "s.space"
    embspace.save(small_space, path)
    ok = CliRunner().invoke(main, ["verify", str(path)])
    assert ok.exit_code == 0 and "ok (" in ok.output and "unique non-empty ids" in ok.output
    ids = list(small_space.ids)
    ids[5] = ids[1]
    _forge_content(path, ids=ids)
    assert embspace.load(path).n == small_space.n  # duplicates cost a set over every id: verify looks, load does not
    bad = CliRunner().invoke(main, ["verify", str(path)])
    assert bad.exit_code == 1 and "repeats the id" in bad.output and "second at row 5" in bad.output
    assert "Traceback" not in bad.output and len(bad.output.strip().splitlines()) == 1


def test_verify_checks_the_cached_index_and_maps_too(small_space, tmp_path):
    from click.testing import CliRunner

    from embspace.cli import main
    from embspace.index import build_index
    from embspace.reduce import get_or_make_map

    path = embspace.save(small_space, tmp_path / "s.space")
    build_index(path, "flat", sample=20)
    m = get_or_make_map(path, "pca")
    ok = CliRunner().invoke(main, ["verify", str(path), "--json"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["index"] == "flat" and json.loads(ok.stdout)["maps"] == 1
    coords = path / "maps" / m.key / "coords.npy"
    data = bytearray(coords.read_bytes())
    data[-1] ^= 1
    coords.write_bytes(bytes(data))
    bad = CliRunner().invoke(main, ["verify", str(path)])
    assert bad.exit_code == 1 and "coords.npy" in bad.output and len(bad.output.strip().splitlines()) == 1
    get_or_make_map(path, "pca")  # drawn again
    (path / "index" / "index.json").write_text("{}")
    bad = CliRunner().invoke(main, ["verify", str(path)])
    assert bad.exit_code == 1 and "rebuild it with `embspace index" in bad.output


def test_duplicate_ids_are_refused_by_what_would_answer_wrongly(small_space, tmp_path):
    from click.testing import CliRunner

    from embspace.cli import main

    path = embspace.save(small_space, tmp_path / "s.space")
    ids = list(small_space.ids)
    ids[9] = ids[4]
    _forge_content(path, ids=ids)
    space = embspace.load(path)
    # a lookup through the stored index confirms the id it finds: never a wrong row
    assert space.index("w4") == 4 and "w9" not in space
    with pytest.raises(CorruptSpaceError, match=r"items\.parquet: repeats the id 'w4' \(second at row 9\)"):
        space._lookup  # noqa: B018 - what export and evaluate build
    for args in (["export", str(path), "--format", "word2vec", "-o", str(tmp_path / "x.txt")],):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1 and "repeats the id 'w4'" in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "x.txt").exists()
    with pytest.raises(CorruptSpaceError, match=r"repeats the id 'w4' \(second at row 9\)"):
        embspace.load(path, verify="full")
    with pytest.raises(SpaceError, match="repeats the id 'a'"):
        embspace.Space(["a", "b", "a"], np.eye(3, dtype=np.float32), check=False)._lookup  # noqa: B018


def test_assets_round_trip_checked_like_every_file(small_space, tmp_path):
    space = small_space.subset(slice(0, 50))
    space.assets["thumbs-000.png"] = b"\x89PNG fake page"
    space.assets["model.safetensors"] = b"weights"
    path = embspace.save(space, tmp_path / "s.space")
    loaded = embspace.load(path)
    assert sorted(loaded.assets) == ["model.safetensors", "thumbs-000.png"]
    assert loaded.assets["thumbs-000.png"].read_bytes() == b"\x89PNG fake page"
    assert loaded.head(3).assets == loaded.assets  # subsets keep them
    again = embspace.save(loaded, tmp_path / "t.space")  # Paths of a loaded space are copied
    assert embspace.load(again).assets["model.safetensors"].read_bytes() == b"weights"
    (path / "assets" / "model.safetensors").write_bytes(b"weighTs")
    with pytest.raises(CorruptSpaceError, match=r"model\.safetensors: block 0 .* does not match its checksum"):
        embspace.load(path)
    bad = small_space.subset(slice(0, 5))
    for name in ("../x", "a/b", "", ".hidden"):
        bad.assets = {name: b"x"}
        with pytest.raises(EmbspaceError, match="not a plain file name"):
            embspace.save(bad, tmp_path / "bad.space", overwrite=True)
    assert not (tmp_path / "bad.space").exists()
