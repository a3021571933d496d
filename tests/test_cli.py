"""The command line: tables, --json, one-line errors with non-zero exits."""

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import embspace
from embspace.cli import main


@pytest.fixture(scope="module")
def space_path(tmp_path_factory, glove_small):
    return str(embspace.save(glove_small, tmp_path_factory.mktemp("cli") / "g.space"))


def run(*args):
    result = CliRunner().invoke(main, ["-q", *args], catch_exceptions=False)
    return result


def test_neighbors_table_and_json(space_path):
    out = run("neighbors", space_path, "king", "-k", "3")
    assert out.exit_code == 0 and "prince" in out.output and "queen" in out.output
    data = json.loads(run("neighbors", space_path, "king", "-k", "3", "--json").output)
    assert [d["id"] for d in data] == ["prince", "queen", "ii"]
    assert set(data[0]) == {"id", "score", "score_kind"} and isinstance(data[0]["score"], float)
    assert data[0]["score_kind"] == "similarity"
    many = json.loads(run("neighbors", space_path, "king", "frog", "-k", "2", "--json").output)
    assert set(many) == {"king", "frog"}
    dist = json.loads(run("neighbors", space_path, "king", "-k", "2", "--metric", "euclidean", "--json").output)
    assert dist[0]["score"] <= dist[1]["score"] and {d["score_kind"] for d in dist} == {"distance"}
    sim = json.loads(run("similarity", space_path, "king", "queen", "--metric", "euclidean", "--json").output)
    assert sim["metric"] == "euclidean" and sim["score_kind"] == "distance"


def test_analogy_similarity_odd_one_out_info(space_path):
    assert json.loads(run("analogy", space_path, "man", "king", "woman", "--json").output)[0]["id"] == "queen"
    out = run("analogy", space_path, "man", "king", "woman", "--method", "3cosmul")
    assert out.exit_code == 0 and "queen" in out.output
    sim = json.loads(run("similarity", space_path, "king", "queen", "--json").output)
    assert sim["score"] == pytest.approx(0.7839, abs=1e-4)
    assert run("odd-one-out", space_path, "breakfast", "lunch", "dinner", "cereal").output.strip() == "cereal"
    info = json.loads(run("info", space_path, "--json").output)
    assert info["n"] == 20_000 and info["dim"] == 50 and info["first_ids"][0] == "the"
    assert "items" in run("info", space_path).output


@pytest.mark.parametrize(
    "args, message",
    [
        (["neighbors", "{space}", "kingg"], "'kingg' is not in the space; did you mean 'king'"),
        (["neighbors", "{space}", "king", "-k", "20000"], "k=20000 is larger"),
        (["similarity", "{space}", "king", "qqqqqq"], "'qqqqqq' is not in the space"),
        (["info", "/nonexistent/x.space"], "no such space"),
        (["neighbors", "{space}", "king", "--metric", "manhattan"], "Invalid value for '--metric'"),
    ],
)
def test_errors_are_one_line_and_non_zero(space_path, args, message):
    args = [a.replace("{space}", space_path) for a in args]
    proc = subprocess.run([sys.executable, "-m", "embspace", "-q", *args], capture_output=True, text=True)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len([line for line in proc.stderr.splitlines() if line.startswith("Error")]) == 1


def test_damaged_space_is_an_error_not_a_traceback(space_path, tmp_path):
    import shutil

    copy = tmp_path / "copy.space"
    shutil.copytree(space_path, copy)
    (copy / "vectors.npy").write_bytes((copy / "vectors.npy").read_bytes()[:1000])
    proc = subprocess.run([sys.executable, "-m", "embspace", "info", str(copy)], capture_output=True, text=True)
    assert proc.returncode == 1 and "vectors.npy" in proc.stderr and "Traceback" not in proc.stderr


def test_import_export_round_trip(space_path, tmp_path):
    w2v = tmp_path / "g.txt"
    assert run("export", space_path, "--format", "word2vec", "-o", str(w2v)).exit_code == 0
    out = tmp_path / "back.space"
    assert run("import", str(w2v), "--format", "word2vec", "-o", str(out)).exit_code == 0
    a, b = embspace.load(space_path), embspace.load(out)
    assert a.ids == b.ids
    np.testing.assert_allclose(a.vectors, b.vectors, atol=1e-6)
    again = run("import", str(w2v), "--format", "word2vec", "-o", str(out))
    assert again.exit_code != 0 and "pass --force" in again.output
    assert run("import", str(w2v), "--format", "word2vec", "-o", str(out), "--force").exit_code == 0


def test_import_fails_before_reading_when_output_unwritable(tmp_path):
    w2v = tmp_path / "x.txt"
    w2v.write_text("1 2\na 1 2\n")
    out = run("import", str(w2v), "--format", "word2vec", "-o", str(tmp_path / "no" / "dir" / "x.space"))
    assert out.exit_code != 0 and "does not exist" in out.output


def test_import_bad_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("3 2\na 1 2\nb 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "embspace", "import", str(bad), "--format", "word2vec", "-o", str(tmp_path / "o.space")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0 and "bad.txt" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o.space").exists()


def test_evaluate_json_with_files(space_path):
    from embspace.evaluate import builtin_path

    data = json.loads(
        run(
            "evaluate",
            space_path,
            "--pairs",
            "ws353",
            "--analogies",
            str(builtin_path("google")),
            "--method",
            "3cosadd",
            "--json",
        ).output
    )
    tasks = data["tasks"]
    assert len(tasks) == 2
    for task in tasks:
        assert {"name", "metric", "score", "coverage"} <= set(task)
        assert 0 < task["coverage"] <= 1


def test_help_has_examples():
    for verb in ["import", "export", "info", "neighbors", "analogy", "similarity", "evaluate", "demo"]:
        out = run(verb, "--help")
        assert out.exit_code == 0 and "Example" in out.output, verb


def test_demo_leaves_a_glove_space_link_and_prints_commands_that_run(space_path, tmp_path, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    out = run("demo", "--no-serve", "--quick", "--space", space_path)
    assert out.exit_code == 0, out.output
    link = tmp_path / "glove.space"
    assert link.is_symlink() and link.resolve() == Path(space_path).resolve()
    assert "linked as ./glove.space" in out.output and f"the space is at {Path(space_path).resolve()}" in out.output
    assert "neighbors glove.space king -k 5" in out.output
    assert "prince" in run("neighbors", "glove.space", "king", "-k", "1").output  # as the help examples say
    assert run("demo", "--no-serve", "--quick", "--space", space_path).exit_code == 0  # the link stays
    link.unlink()
    link.mkdir()  # a name taken by something else is left alone; the commands then use the full path
    out = run("demo", "--no-serve", "--quick", "--space", space_path)
    assert out.exit_code == 0 and link.is_dir() and not link.is_symlink()
    assert "left as it is" in out.output and f"neighbors {Path(space_path).resolve()} king" in out.output
    assert "glove.space" in run("--help").output and "demo" in run("--help").output


def test_install_hints_work_from_a_checkout():
    """embspace is not on PyPI: `pip install 'embspace[x]'` finds nothing; from a checkout it is `-e`."""
    import re
    from pathlib import Path

    from embspace._install import install_hint

    root = Path(__file__).resolve().parents[1]
    assert install_hint("texts") == f"pip install -e '{root}[texts]'"
    readme = (root / "README.md").read_text(encoding="utf-8")
    lines = [line for line in readme.splitlines() if "pip install" in line]
    assert lines and all(re.search(r"pip install -e '\.\[[a-z,]+\]'", line) for line in lines), lines
    stale = [p for p in (root / "src").rglob("*.py") if "pip install 'embspace[" in p.read_text(encoding="utf-8")]
    assert not stale, stale


def test_quiet_is_accepted_after_the_verb_by_every_command(space_path, monkeypatch):
    from embspace import _progress

    monkeypatch.setattr(_progress, "_ENABLED", False)  # the library default, restored after this test
    out = CliRunner().invoke(main, ["neighbors", space_path, "king", "-k", "1", "-q"])
    assert out.exit_code == 0 and "prince" in out.output and _progress._ENABLED is False
    assert CliRunner().invoke(main, ["neighbors", space_path, "king", "-k", "1"]).exit_code == 0
    assert _progress._ENABLED is True  # without -q the CLI shows progress
    assert CliRunner().invoke(main, ["build", "-q", "words", "--help"]).exit_code == 0

    def verbs(group, path=()):
        for name, command in group.commands.items():
            yield (*path, name), command
            if hasattr(command, "commands"):
                yield from verbs(command, (*path, name))

    for path, command in verbs(main):
        assert any("-q" in p.opts for p in command.params), path


def test_progress_bar_ends_its_line_when_stderr_is_a_file(space_path, tmp_path):
    """Into a file a wiped bar leaves its text and a carriage return, and 'wrote ...' is glued to it."""
    w2v = tmp_path / "g.txt"
    assert run("export", space_path, "--format", "word2vec", "-o", str(w2v)).exit_code == 0
    with open(tmp_path / "err.txt", "wb") as err:
        cmd = [sys.executable, "-m", "embspace", "import", str(w2v), "--format", "word2vec", "-o", str(tmp_path / "o")]
        assert subprocess.run(cmd, stderr=err).returncode == 0
    lines = (tmp_path / "err.txt").read_bytes().decode().split("\n")
    assert "100%" in lines[-3] and lines[-2].startswith("wrote "), lines


HUGE = "1" + "0" * 30


@pytest.mark.parametrize(
    "args, message",
    [
        (["index", "{space}", "--m", "1000000000"], "'--m': 1000000000 is not in the range 2<=x<=256"),
        (["index", "{space}", "--kind", "ivfpq", "--nlist", "1000000000"], "'--nlist'"),
        (["index", "{space}", "--ef-construction", str(10**12)], "'--ef-construction'"),
        (["index", "{space}", "--ef-search", HUGE], "'--ef-search'"),
        (["build", "words", "{corpus}", "--method", "sgns", "-o", "{tmp}/a.space", "--dim", str(10**12)], "'--dim'"),
        (
            ["build", "words", "{corpus}", "--method", "fasttext", "-o", "{tmp}/b.space", "--buckets", str(10**12)],
            "'--buckets'",
        ),
        (
            ["build", "words", "{corpus}", "--method", "glove", "-o", "{tmp}/c.space", "--window", str(10**12)],
            "'--window'",
        ),
        (
            [
                "build",
                "words",
                "{corpus}",
                "--method",
                "fasttext",
                "-o",
                "{tmp}/d.space",
                "--buckets",
                "100000000",
                "--dim",
                "10000",
            ],
            "this build would need about 7,450.6 GiB",
        ),
        (["map", "{space}", "--method", "pca", "--seed", HUGE], "'--seed'"),
        (["map", "{space}", "--method", "pca", "--dims", HUGE], "--dims must be 2 or 3"),
        (["build", "texts", "{corpus}", "--model", "tfidf-svd", "-o", "{tmp}/e.space", "--seed", HUGE], "'--seed'"),
        (["export", "{space}", "--format", "tsv", "-o", "{tmp}/victim", "--force"], "is a file, not a folder"),
    ],
)
def test_huge_numbers_are_one_line_errors(space_path, tmp_path, args, message):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat\n" * 20)
    (tmp_path / "victim").write_text("keep me\n")
    args = [a.format(space=space_path, corpus=corpus, tmp=tmp_path) for a in args]
    result = CliRunner().invoke(main, ["-q", *args])
    assert result.exit_code in (1, 2), result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert message in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.startswith("Error")]) == 1
    assert (tmp_path / "victim").read_text() == "keep me\n"
    assert not any(tmp_path.glob("*.space"))


def test_out_of_memory_is_one_line(space_path, monkeypatch):
    import embspace.index

    def no_memory(*args, **kwargs):
        raise MemoryError("std::bad_alloc")

    monkeypatch.setattr(embspace.index, "build_index", no_memory)
    result = CliRunner().invoke(main, ["-q", "index", space_path])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "Error: not enough memory: std::bad_alloc" in result.output


def test_export_never_replaces_a_device_or_pipe(space_path, tmp_path):
    import os

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = CliRunner().invoke(main, ["-q", "export", space_path, "--format", "glove", "-o", str(fifo), "--force"])
    assert result.exit_code == 1 and "it is not a regular file" in result.output
    assert fifo.is_fifo() and [p.name for p in tmp_path.iterdir()] == ["pipe"]
