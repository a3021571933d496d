"""The linter sees every file of the package: no folder of embspace is one that tools skip by default."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import embspace

ROOT = Path(embspace.__file__).parent
SKIPPED_BY_TOOLS = {"build", "dist", "lib", "node_modules", "site-packages", "venv", "_build", "buck-out"}


def test_no_package_folder_has_a_name_that_tools_skip():
    folders = {p.parent.name for p in ROOT.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert not folders & SKIPPED_BY_TOOLS


def test_ruff_reads_every_python_file_under_src():
    pytest.importorskip("ruff")
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--show-files", str(ROOT)],
        capture_output=True,
        text=True,
        cwd=ROOT.parents[1],
    )
    assert proc.returncode == 0, proc.stderr
    seen = {Path(line.strip()).resolve() for line in proc.stdout.splitlines() if line.strip().endswith(".py")}
    assert {p.resolve() for p in ROOT.rglob("*.py")} <= seen
