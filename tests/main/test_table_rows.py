"""components/table.html's rows are written by panel.filters.table_row (a Jinja macro per cell took
most of the time of a page of a thousand cells). What each kind of cell becomes."""

from __future__ import annotations

from markupsafe import Markup

from panel.filters import table_row


def test_plain_cells_are_escaped_and_the_first_may_be_the_row_header():
    row = table_row(["<b>Lead</b>", 3, None], first_cell_is_header=True)

    assert row == ('<tr class="govuk-table__row"><th scope="row" class="govuk-table__header">&lt;b&gt;Lead&lt;/b&gt;</th>'
                   '<td class="govuk-table__cell">3</td><td class="govuk-table__cell">None</td></tr>')
    assert isinstance(row, Markup)


def test_a_mapping_cell_has_its_format_classes_spans_and_attributes():
    row = table_row({"cells": [{"text": "7", "format": "numeric", "classes": "panel-suppressed", "colspan": 2,
                                "attributes": {"data-x": '"q"'}},
                               {"html": "<a href=\"/x\">Open</a>"},
                               {"text": "Actions", "hidden": True},
                               {"text": "Row", "header": True, "format": "numeric", "classes": "wide"}],
                     "attributes": {"id": "case-1"}})

    assert row == ('<tr class="govuk-table__row" id="case-1">'
                   '<td class="govuk-table__cell govuk-table__cell--numeric panel-suppressed" colspan="2" '
                   'data-x="&#34;q&#34;">7</td>'
                   '<td class="govuk-table__cell"><a href="/x">Open</a></td>'
                   '<td class="govuk-table__cell"><span class="govuk-visually-hidden">Actions</span></td>'
                   '<th scope="row" class="govuk-table__header wide">Row</th></tr>')


def test_markup_from_a_macro_is_kept_and_a_missing_text_is_empty():
    row = table_row([Markup("<strong>High</strong>"), {"format": "numeric"}, {"html": None, "text": "<i>"}])

    assert row == ('<tr class="govuk-table__row"><td class="govuk-table__cell"><strong>High</strong></td>'
                   '<td class="govuk-table__cell govuk-table__cell--numeric"></td>'
                   '<td class="govuk-table__cell">&lt;i&gt;</td></tr>')
