"""deploy/systemd: `systemd-analyze verify` passes on both units, and they keep their hardening."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))


def test_both_units_are_there():
    assert [u.name for u in UNITS] == ["panel-scheduler.service", "panel-web.service"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed (apt-get install systemd)")
def test_systemd_analyze_verify_passes(tmp_path):
    # verify checks that ExecStart's program exists: point /opt/panel at this checkout and its venv
    venv = Path(sys.executable).parent.parent
    for unit in UNITS:
        text = unit.read_text().replace("/opt/panel/.venv", str(venv)).replace("/opt/panel", str(ROOT))
        (tmp_path / unit.name).write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", *[str(tmp_path / u.name) for u in UNITS]],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr.strip() == "", done.stderr


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.stem)
def test_each_unit_runs_as_the_panel_user_hardened(unit):
    lines = {line.strip() for line in unit.read_text().splitlines()}
    for wanted in ("User=panel", "Group=panel", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
                   "PrivateTmp=yes", "CapabilityBoundingSet=", "EnvironmentFile=/etc/panel/panel.env",
                   "Restart=on-failure", "UMask=0077"):
        assert wanted in lines, f"{unit.name} lacks {wanted}"
    commands = [line for line in lines if line.startswith("ExecStart=")]
    expected = ("gunicorn -c deploy/gunicorn.conf.py wsgi:app" if "web" in unit.name
                else "flask --app wsgi panel scheduler")
    assert len(commands) == 1 and commands[0].endswith(expected)
