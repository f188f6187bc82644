"""Disclosure control on hand-built figures: counts of 1 to 4 read "fewer than 5" ("<5" in a
CSV), zero is shown, and secondary suppression withholds enough that no suppressed count can be
worked out from the rest of the table: two attackers (tests/reports/board_attack.py) try every
suppressed cell of hand-built and of many random tables, and fail."""

from __future__ import annotations

import random

import pytest

from panel.reports import disclosure
from panel.reports.disclosure import Grid, Shape, Shown, protect
from panel.reports.pack import Table, protect_all
from tests.reports.board_attack import determined_by_totals, possible_values, recoverable


def _texts(grid: Grid) -> list[list[str]]:
    """The grid with its totals as the page shows it, row by row."""
    shape = grid.shape
    return [[grid.at((r, c)).text for c in range(shape.columns + shape.row_totals)]
            for r in range(shape.rows + shape.column_totals)]


def test_counts_of_one_to_four_read_fewer_than_5_and_zero_is_shown():
    grid = protect([[0, 1, 2, 3, 4, 5]], row_totals=False, column_totals=False)

    assert _texts(grid) == [["0", "fewer than 5", "fewer than 5", "fewer than 5", "fewer than 5", "5"]]
    assert [c.csv for c in grid.cells[0]] == ["0", "<5", "<5", "<5", "<5", "5"]
    assert [c.number for c in grid.cells[0]] == [0, None, None, None, None, 5]


def test_a_table_with_no_small_count_is_shown_whole():
    grid = protect([[5, 10], [0, 7]])

    assert _texts(grid) == [["5", "10", "15"], ["0", "7", "7"], ["5", "17", "22"]]
    assert grid.suppressed() == {}


def test_a_small_count_beside_its_total_takes_another_count_of_its_column_with_it():
    # 3 + 20 + 0 = 23: with 20 shown, 23 - 20 gives the 3 away
    grid = protect([[3], [20], [0]], row_totals=False)

    assert _texts(grid) == [["fewer than 5"], ["withheld"], ["0"], ["23"]]
    assert [c.csv for c in grid.cells[1]] == ["withheld"]
    assert recoverable(grid) == []


def test_secondary_suppression_in_two_directions_makes_a_rectangle():
    grid = protect([[3, 10, 12], [8, 9, 20]])

    assert _texts(grid) == [
        ["fewer than 5", "withheld", "12", "25"],
        ["withheld", "withheld", "20", "37"],
        ["11", "19", "32", "62"],
    ]
    assert grid.suppressed() == {(0, 0): Shown.SMALL, (0, 1): Shown.WITHHELD, (1, 0): Shown.WITHHELD,
                                 (1, 1): Shown.WITHHELD}
    assert recoverable(grid) == []


def test_a_small_total_is_suppressed_too():
    grid = protect([[3, 0], [0, 0]])

    assert _texts(grid) == [["fewer than 5", "0", "fewer than 5"], ["0", "0", "0"], ["fewer than 5", "0", "fewer than 5"]]
    assert recoverable(grid) == []


def test_what_a_reader_knows_of_withheld_counts_is_taken_into_account():
    # Withholding the 5 beside the 1 is not enough: 1 + 5 = 6 with "fewer than 5" (1 to 4) and
    # "withheld" (5 or more) has one answer. The total is withheld instead.
    naive = Grid(shape=Shape(2, 1, row_totals=False, column_totals=True),
                 counts={(0, 0): disclosure.Count(1, Shown.SMALL), (1, 0): disclosure.Count(5, Shown.WITHHELD),
                         (2, 0): disclosure.Count(6)})
    assert determined_by_totals(naive) == []          # the sums alone do not give it away,
    assert possible_values(naive)[(0, 0)] == {1}      # but what a reader knows of the cells does
    assert recoverable(naive) == [(0, 0), (1, 0)]

    grid = protect([[1], [5]], row_totals=False)

    assert _texts(grid) == [["fewer than 5"], ["5"], ["withheld"]]
    assert recoverable(grid) == []
    assert possible_values(grid)[(0, 0)] >= {1, 2}


def test_the_attacker_finds_a_count_left_to_be_worked_out():
    # a table published without secondary suppression: the attack must succeed, or it proves nothing
    exposed = Grid(shape=Shape(2, 2, True, True), counts={
        (0, 0): disclosure.Count(3, Shown.SMALL), (0, 1): disclosure.Count(10), (0, 2): disclosure.Count(13),
        (1, 0): disclosure.Count(8), (1, 1): disclosure.Count(9), (1, 2): disclosure.Count(17),
        (2, 0): disclosure.Count(11), (2, 1): disclosure.Count(19), (2, 2): disclosure.Count(30)})

    assert determined_by_totals(exposed) == [(0, 0)]
    assert possible_values(exposed) == {(0, 0): {3}}


def test_a_table_with_row_totals_only():
    grid = protect([[2, 7, 9]], column_totals=False)

    assert _texts(grid) == [["fewer than 5", "withheld", "9", "18"]]
    assert grid.grand_total is None and grid.column_totals is None
    assert recoverable(grid) == []


def test_a_table_with_no_totals_has_nothing_to_work_out_from():
    grid = protect([[2, 7], [9, 1]], row_totals=False, column_totals=False)

    assert _texts(grid) == [["fewer than 5", "7"], ["9", "fewer than 5"]]


def test_forced_counts_are_withheld_and_the_table_protected_again():
    grid = protect([[6, 7], [8, 9]], forced=[(2, 2)])

    assert grid.at((2, 2)).state == Shown.WITHHELD
    assert recoverable(grid) == []


def _random_table(rng: random.Random) -> tuple[list[list[int]], bool, bool]:
    rows, columns = rng.randint(1, 4), rng.randint(1, 4)
    values = [[rng.choice((0, 0, 1, 2, 3, 4, 5, 6, 7, 9, 12, 25)) for _ in range(columns)] for _ in range(rows)]
    shape = rng.choice(((True, True), (True, True), (True, False), (False, True)))
    return values, *shape


@pytest.mark.parametrize("seed", range(12))
def test_no_suppressed_count_of_a_random_table_can_be_worked_out(seed):
    rng = random.Random(seed)
    for _ in range(25):
        values, row_totals, column_totals = _random_table(rng)
        grid = protect(values, row_totals=row_totals, column_totals=column_totals)

        assert not grid.whole_table_withheld, values
        for position, figure in grid.counts.items():
            if 1 <= figure.raw <= 4:
                assert figure.state == Shown.SMALL, (values, position)
            if figure.raw == 0:
                assert not figure.suppressed, (values, position)
            if figure.state == Shown.WITHHELD:
                assert figure.raw >= 5, (values, position)
        assert recoverable(grid) == [], (values, row_totals, column_totals, _texts(grid))


def test_tables_sharing_a_figure_withhold_it_in_both():
    # referrals: 3 + 20 with the total 23 shown in one table; the other table shows 23 as well
    first = Table(key="first", title="First", row_heading="Agency", rows=["A", "B"], columns=["Referrals"],
                  values=[[3], [20]], row_totals=False, links={0: "received"})
    second = Table(key="second", title="Second", row_heading="Group", rows=["X", "Y", "Z"], columns=["Referrals"],
                   values=[[3], [10], [10]], row_totals=False, links={0: "received"})

    protect_all([first, second])

    assert first.grid.at((2, 0)).suppressed == second.grid.at((3, 0)).suppressed
    for table in (first, second):
        assert recoverable(table.grid) == []
    # whatever one withholds of the shared total, the other does too, and both stay safe
    assert {first.grid.at((2, 0)).text, second.grid.at((3, 0)).text} in ({"23"}, {"withheld"})


def _reference_suppress(values, shape, forced=()):
    """The greedy rule written plainly (the graph built again for every question), to check the
    quicker suppress() against: the same counts withheld in the same order."""
    from panel.reports import disclosure as d

    states = {p: d.Shown.SMALL for p, v in values.items() if d.is_small(v)}
    for position in forced:
        if position not in states and values[position] >= d.SMALLEST_SHOWN:
            states[position] = d.Shown.WITHHELD
    while True:
        open_ = d.exposed(values, states, shape)
        if not open_:
            return states
        target = open_[0]
        candidates = sorted((p for p, v in values.items() if p not in states and v >= d.SMALLEST_SHOWN),
                            key=lambda p: d._cost(shape, values, p))
        if not candidates:
            return None
        chosen = next((p for p in candidates
                       if not d.exposed(values, {**states, p: d.Shown.WITHHELD}, shape, only=[target])), None)
        if chosen is None:
            chosen = next((p for p in candidates if p[0] == target[0] or p[1] == target[1]), candidates[0])
        states[chosen] = d.Shown.WITHHELD


def test_the_quick_suppression_withholds_what_the_plain_rule_does():
    """suppress() keeps what it has learnt between rounds (a count once safe stays safe, as
    withholding more only adds ways round) and tries each candidate on the graph already built;
    on 600 random tables it withholds exactly what the plain greedy rule does."""
    import random

    from panel.reports import disclosure as d

    rng = random.Random(18)
    for _ in range(600):
        rows, columns = rng.randint(1, 7), rng.randint(1, 6)
        body = [[rng.choice([0, 0, 1, 2, 3, 4, 5, 6, 8, 12, 30]) for _ in range(columns)] for _ in range(rows)]
        shape = d.Shape(rows, columns, rng.random() < 0.8, rng.random() < 0.8)
        values = d.with_totals(body, shape)
        assert d.suppress(values, shape) == _reference_suppress(values, shape), (body, shape)


def test_a_table_worked_out_once_is_remembered_and_not_shared():
    from panel.reports import disclosure as d

    body = [[3, 9, 14], [6, 2, 11], [7, 8, 1]]
    before = d._suppressed.cache_info().hits
    first = d.protect(body)
    first.counts.clear()  # what a caller does with its copy reaches no one else
    second = d.protect(body)

    assert d._suppressed.cache_info().hits == before + 1
    assert second.suppressed() == d.Grid(second.shape, second.counts).suppressed()
    assert second.suppressed() and len(second.counts) == 16
