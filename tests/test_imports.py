"""Every service-layer module imports on its own in a fresh interpreter: no import cycles hide
behind the order in which create_app() happens to import things (the scheduler resolves jobs
by module path, and scripts import services directly)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import panel

ROOT = Path(panel.__file__).resolve().parent.parent
# the modules jobs, scripts and other features import directly (views and forms come in
# through the blueprints, and models, audit and the like import nothing of the features)
SERVICE_LAYER = {"services", "jobs", "policy", "agenda", "invitations", "mdt", "minutes", "panels", "schedule",
                 "feed", "scheduler", "access", "demo"}


def _modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(panel.__path__, "panel."):
        leaf = info.name.rsplit(".", 1)[-1]
        if leaf in SERVICE_LAYER:
            names.append(info.name)
    return sorted(names)


def _import(name: str) -> tuple[str, int, str]:
    done = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    return name, done.returncode, done.stderr[-600:]


def test_every_service_module_imports_alone():
    modules = _modules()
    assert "panel.actions.jobs" in modules and "panel.meetings.invitations" in modules
    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [(n, err) for n, code, err in pool.map(_import, modules) if code != 0]
    assert not failures, failures
