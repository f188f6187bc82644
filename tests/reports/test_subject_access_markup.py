"""The review page writes each free-text field's lines in the view (subject_access_views.lines)
rather than with the `lines` macro for each field (issue 18: a macro and a url_for a field were
most of the page's time at ten years): the text must be the markup the macro draws."""

from __future__ import annotations

import pytest

from panel.reports.views.subject_access_views import lines

MACRO = '{% from "reports/subject_access_macros.html" import lines %}{{ lines(text) }}'

TEXTS = ["", "One line", "Two\nlines", "Mrs <b>Smith</b> & \"Jones\"\n\nsaid 'no'\n", "\n", "a\r\nb"]


@pytest.mark.parametrize("text", TEXTS)
def test_a_fields_lines_are_the_markup_the_macro_draws(app, text):
    with app.test_request_context("/"):
        theirs = app.jinja_env.from_string(MACRO).render(text=text)
    assert str(lines(text)) == theirs
