"""The Nu HTML Checker (vnu-jar from npm, on the machine's Java) finds no error on any page that
any demo role can reach: the demo data is loaded, every page is crawled as each role, and the
checker runs once over all the saved pages (one JVM start keeps the suite fast)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PG_URL
from tests.html.conftest import crawl_as_each_role

VNU = Path(__file__).resolve().parents[2] / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
# GOV.UK Frontend's own markup, which we do not change: the service navigation toggle and the
# date input's fieldset. They are warnings ("info"), never errors.
KNOWN_WARNINGS = (
    "Attribute “aria-hidden” is unnecessary for elements that have attribute “hidden”.",
    "The “group” role is unnecessary for element “fieldset”.",
)

pytestmark = pytest.mark.skipif(bool(PG_URL), reason="the HTML is the same on either database: checked on SQLite")


def run_vnu(folder: Path) -> list[dict]:
    java = shutil.which("java")
    assert java, "Java is needed for the Nu HTML Checker: make test installs openjdk-17-jre-headless"
    assert VNU.exists(), "vnu-jar is missing: run npm ci (make test does)"
    done = subprocess.run([java, "-Xss2m", "-jar", str(VNU), "--format", "json", "--skip-non-html", str(folder)],
                          capture_output=True, text=True, timeout=300)
    return json.loads(done.stderr or '{"messages": []}')["messages"]


def test_every_page_of_every_demo_role_is_valid_html(app, demo, tmp_path):
    pages = crawl_as_each_role(app, shape_limit=1)
    where = {}
    for role, found in pages.items():
        assert found, f"nothing crawled as {role}"
        for n, (url, html) in enumerate(found.items()):
            name = f"{role}-{n:03d}.html"
            (tmp_path / name).write_text(html, encoding="utf-8")
            where[name] = f"{role} {url}"
    print(f"{len(where)} pages crawled")
    assert len(where) > 150  # every role's pages, not just the home page

    messages = run_vnu(tmp_path)

    def said(m: dict) -> str:
        return f"{where.get(Path(m.get('url', '')).name, m.get('url'))}: {m.get('message')} «{m.get('extract', '')[:120]}»"

    errors = [said(m) for m in messages if m["type"] in ("error", "non-document-error")]
    assert errors == [], "\n".join(errors[:40])
    warnings = [said(m) for m in messages
                if m["type"] == "info" and m.get("subType") == "warning" and m["message"] not in KNOWN_WARNINGS]
    assert warnings == [], "\n".join(warnings[:40])
