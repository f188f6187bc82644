"""The import contract in pyproject.toml bites: an import against the layers, in a copy of the
package, makes lint-imports fail naming the broken contract; the unchanged copy passes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import panel

ROOT = Path(panel.__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
LAYERS = "Imports run one way: the top, then the features in order, then the common layer"


def _copy(tmp_path: Path) -> Path:
    """panel/ and pyproject.toml in a temporary directory: the real tree is never written to."""
    shutil.copytree(ROOT / "panel", tmp_path / "panel", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint(where: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH first, so the copy is found before the editable install of the real package.
    env = {**os.environ, "PYTHONPATH": str(where)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=where, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_unchanged_package_keeps_every_contract(tmp_path):
    done = _lint(_copy(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(("module", "source", "message"), [
    # an earlier feature reaching up into a later one
    ("agencies/layers_probe.py", "from panel.meetings import mdt\n",
     "- panel.agencies.layers_probe -> panel.meetings.mdt"),
    # the common layer importing a feature, hidden inside a function
    ("forms/layers_probe.py", "def probe():\n    from panel.referrals import rules\n    return rules\n",
     "- panel.forms.layers_probe -> panel.referrals.rules"),
])
def test_an_import_against_the_layers_breaks_the_contract(tmp_path, module, source, message):
    where = _copy(tmp_path)
    (where / "panel" / module).write_text(f'"""A throwaway module that breaks the layers."""\n\n{source}')

    done = _lint(where)

    assert done.returncode != 0
    assert f"{LAYERS} BROKEN" in done.stdout, done.stdout
    assert message in done.stdout, done.stdout
    assert not (ROOT / "panel" / module).exists()
