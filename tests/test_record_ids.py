"""An id too large for the database's integers is no record: 404 on every route, never a 500."""

from __future__ import annotations

import re

import pytest

from panel.models import Role

HUGE = "9" * 20
JUST_OVER = str(2**31)


def _int_routes(app) -> list[str]:
    out = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or "int:" not in rule.rule:
            continue
        out.append(re.sub(r"<(?:int:)?(\w+)>", lambda m: "{" + m.group(1) + "}", rule.rule))
    return sorted(out)


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.CHAIR])
def test_huge_ids_are_404_on_every_route(app, client, login_as, role):
    login_as(role)
    routes = _int_routes(app)
    assert any(r.startswith("/meetings/{meeting_id}") for r in routes)
    for template in routes:
        names = re.findall(r"\{(\w+)\}", template)
        for value in (HUGE, JUST_OVER):
            url = template.format(**{name: value if "id" in name else "CASPA-2027-001" for name in names})
            response = client.get(url)
            assert response.status_code == 404, (url, response.status_code)
