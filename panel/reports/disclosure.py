"""Disclosure control for the Board's reports: no count from 1 to 4 is ever shown, and nothing
that is shown lets one be worked out.

The rules, for a table of counts with its totals (row totals, column totals, the grand total):
- primary suppression: a count from 1 to 4, total or not, reads "fewer than 5" ("<5" in a CSV).
  Zero is shown;
- secondary suppression: other counts are withheld (they read "withheld") until no suppressed
  count can be worked out from the rest of the table. Only counts of 5 or more are ever withheld
  (zero is shown, 1 to 4 read "fewer than 5"), so a reader knows this much: a "fewer than 5" is
  1, 2, 3 or 4, and a "withheld" is 5 or more. Cells in the body are withheld before totals, the
  grand total last, and smaller counts before larger ones.

How "cannot be worked out" is checked, exactly (not by a rule of thumb such as "two suppressed
cells in every row"): write the table with its totals as one grid, each row and each column of
which adds up (a total counted negatively). A suppressed count can be recovered only if every
table consistent with what is shown, and with what a reader knows of the suppressed counts, has
the same value there. Another consistent table differs by a change that keeps every row and
column sum: such a change breaks down into cycles of +1 and -1 on suppressed cells, alternating
along a row and then a column (a row or column without a total constrains nothing, so all of
those are joined into one free node). So a suppressed count is safe exactly when some cycle
through it can move by one, in one direction, while every cell on it stays within what the
reader knows (1 to 4, or 5 and more). That is a search for a directed cycle in a small graph,
done for every suppressed cell after each new suppression, until every one is safe.

Tables that share a figure (the referrals received appear in the referrals table and under each
equality heading) are protected together by panel.reports.pack: a figure withheld in one is
withheld in all, and each is checked again. When a table's counts are too few to protect at all,
the pack merges its smallest rows ("Other agencies") until they are not.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from enum import StrEnum

SMALLEST_SHOWN = 5
FEWER_THAN = "fewer than 5"
FEWER_THAN_CSV = "<5"
WITHHELD = "withheld"

Position = tuple[int, int]  # (row, column) in the grid with its totals


class Shown(StrEnum):
    SHOWN = "shown"
    SMALL = "small"          # 1 to 4: "fewer than 5"
    WITHHELD = "withheld"    # withheld so that a small count cannot be worked out


@dataclass(frozen=True)
class Count:
    """One published count: its number when it may be shown, otherwise the words instead."""

    raw: int
    state: Shown = Shown.SHOWN

    @property
    def number(self) -> int | None:
        """The number, or None when it is suppressed (what charts and tables may draw)."""
        return self.raw if self.state == Shown.SHOWN else None

    @property
    def suppressed(self) -> bool:
        return self.state != Shown.SHOWN

    @property
    def text(self) -> str:
        if self.state == Shown.SMALL:
            return FEWER_THAN
        if self.state == Shown.WITHHELD:
            return WITHHELD
        return f"{self.raw:,}"

    @property
    def csv(self) -> str:
        if self.state == Shown.SMALL:
            return FEWER_THAN_CSV
        if self.state == Shown.WITHHELD:
            return WITHHELD
        return str(self.raw)


def is_small(value: int) -> bool:
    return 1 <= value < SMALLEST_SHOWN


def count(value: int) -> Count:
    """A count on its own (no totals to protect): "fewer than 5" when it is 1 to 4."""
    return Count(value, Shown.SMALL if is_small(value) else Shown.SHOWN)


# ---- the table with its totals as one grid ---------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """The grid of a table with its totals: `rows` x `columns` of body, plus a column of row
    totals (row_totals) and a row of column totals (column_totals)."""

    rows: int
    columns: int
    row_totals: bool
    column_totals: bool

    def positions(self) -> list[Position]:
        return [(r, c) for r in range(self.rows + self.column_totals) for c in range(self.columns + self.row_totals)]

    def is_total(self, position: Position) -> bool:
        r, c = position
        return r >= self.rows or c >= self.columns

    def is_grand_total(self, position: Position) -> bool:
        r, c = position
        return r >= self.rows and c >= self.columns

    def sign(self, position: Position) -> int:
        """In each row and column of the grid the signed cells add up to 0: a total counts -1
        against its body cells, and the grand total +1 (it is a total of totals)."""
        r, c = position
        return (-1 if r >= self.rows else 1) * (-1 if c >= self.columns else 1)

    def nodes(self, position: Position) -> tuple[object, object]:
        """The row and the column a cell adds up in; a row or column with no total adds up to
        nothing, so all of those are one free node."""
        r, c = position
        return (("row", r) if self.row_totals else "free"), (("column", c) if self.column_totals else "free")


@dataclass(frozen=True, eq=False)
class Grid:
    """A protected table: every count of the grid with its totals, as it may be published."""

    shape: Shape
    counts: dict[Position, Count]
    whole_table_withheld: bool = False

    def at(self, position: Position) -> Count:
        return self.counts[position]

    @property
    def cells(self) -> list[list[Count]]:
        return [[self.counts[r, c] for c in range(self.shape.columns)] for r in range(self.shape.rows)]

    @property
    def row_totals(self) -> list[Count] | None:
        if not self.shape.row_totals:
            return None
        return [self.counts[r, self.shape.columns] for r in range(self.shape.rows)]

    @property
    def column_totals(self) -> list[Count] | None:
        if not self.shape.column_totals:
            return None
        return [self.counts[self.shape.rows, c] for c in range(self.shape.columns)]

    @property
    def grand_total(self) -> Count | None:
        if not (self.shape.row_totals and self.shape.column_totals):
            return None
        return self.counts[self.shape.rows, self.shape.columns]

    def suppressed(self) -> dict[Position, Shown]:
        return {p: c.state for p, c in self.counts.items() if c.suppressed}


def with_totals(values: Sequence[Sequence[int]], shape: Shape) -> dict[Position, int]:
    """Every value of the grid: the body, and the totals the shape has."""
    grid: dict[Position, int] = {}
    for r in range(shape.rows):
        for c in range(shape.columns):
            grid[r, c] = int(values[r][c])
        if shape.row_totals:
            grid[r, shape.columns] = sum(grid[r, c] for c in range(shape.columns))
    if shape.column_totals:
        for c in range(shape.columns + shape.row_totals):
            grid[shape.rows, c] = sum(grid[r, c] for r in range(shape.rows))
    return grid


def bounds(value: int, state: Shown) -> tuple[int, float]:
    """What a reader knows of a suppressed count: 1 to 4, or 5 and more."""
    if state == Shown.SMALL:
        return 1, SMALLEST_SHOWN - 1
    return SMALLEST_SHOWN, float("inf")


Arcs = dict[object, list[tuple[object, Position]]]


def _moves(value: int, state: Shown, sign: int) -> tuple[bool, bool]:
    """Whether the count could be one more, and one less, and stay within what a reader knows."""
    low, high = bounds(value, state)
    return low <= value + sign <= high, low <= value - sign <= high


def _add(arcs: Arcs, shape: Shape, position: Position, up: bool, down: bool) -> None:
    row, column = shape.nodes(position)
    if up:
        arcs[row].append((column, position))
    if down:
        arcs[column].append((row, position))


def _graph(values: dict[Position, int], states: dict[Position, Shown], shape: Shape) -> tuple[dict, Arcs]:
    """Each suppressed count's moves, and the arcs they make between rows and columns."""
    moves: dict[Position, tuple[bool, bool]] = {}
    arcs: Arcs = defaultdict(list)
    for position, state in states.items():
        moves[position] = _moves(values[position], state, shape.sign(position))
        _add(arcs, shape, position, *moves[position])
    return moves, arcs


def _open(position: Position, moves: dict, arcs: Arcs, shape: Shape) -> bool:
    """Whether this suppressed count could be worked out: no cycle through it lets it move."""
    up, down = moves[position]
    row, column = shape.nodes(position)
    return not ((up and _reaches(arcs, column, row, position)) or (down and _reaches(arcs, row, column, position)))


def exposed(values: dict[Position, int], states: dict[Position, Shown], shape: Shape,
            only: Iterable[Position] | None = None) -> list[Position]:
    """The suppressed positions whose value could be worked out (see the module's notes), in order."""
    moves, arcs = _graph(values, states, shape)
    return [p for p in sorted(states if only is None else only) if _open(p, moves, arcs, shape)]


def _reaches(arcs: dict[object, list[tuple[object, Position]]], start: object, goal: object, without: Position) -> bool:
    """A directed path from start to goal that does not use the cell `without`."""
    if start == goal:
        return True
    seen, queue = {start}, deque([start])
    while queue:
        node = queue.popleft()
        for following, position in arcs.get(node, ()):
            if position == without or following in seen:
                continue
            if following == goal:
                return True
            seen.add(following)
            queue.append(following)
    return False


def _cost(shape: Shape, values: dict[Position, int], position: Position) -> tuple:
    """Which count to withhold first: body before totals, the grand total last, small before large."""
    return (shape.is_grand_total(position), shape.is_total(position), values[position], position)


def suppress(values: dict[Position, int], shape: Shape, forced: Iterable[Position] = ()) -> dict[Position, Shown] | None:
    """The state of every suppressed position; None when even withholding every count of 5 or
    more would not do (four counts of 1 under a total of 4 can only be 1 each): the whole table
    is then withheld, and panel.reports.pack merges its smallest rows and tries again."""
    states: dict[Position, Shown] = {p: Shown.SMALL for p, v in values.items() if is_small(v)}
    for position in forced:
        if position not in states and values[position] >= SMALLEST_SHOWN:
            states[position] = Shown.WITHHELD
    safe: set[Position] = set()  # withholding more only adds arcs, so a count once safe stays safe
    while True:
        moves, arcs = _graph(values, states, shape)
        target = None
        for position in sorted(states):
            if position in safe:
                continue
            if _open(position, moves, arcs, shape):
                target = position
                break
            safe.add(position)
        if target is None:
            return states
        candidates = sorted((p for p, v in values.items() if p not in states and v >= SMALLEST_SHOWN),
                            key=lambda p: _cost(shape, values, p))
        if not candidates:
            return None
        near = _connected(arcs, shape.nodes(target))
        chosen = next((p for p in candidates if set(shape.nodes(p)) <= near
                       and _saves(values, shape, moves, arcs, p, target)), None)
        if chosen is None:  # no single count makes it safe: withhold one beside it and look again
            chosen = next((p for p in candidates if p[0] == target[0] or p[1] == target[1]), candidates[0])
        states[chosen] = Shown.WITHHELD


def _connected(arcs: Arcs, nodes: tuple[object, object]) -> set[object]:
    """The rows and columns joined to these by arcs either way. A count can only close a way
    round a target if both its row and its column are among them, so no other is tried."""
    linked: dict[object, set[object]] = defaultdict(set)
    for start, ends in arcs.items():
        for end, _ in ends:
            linked[start].add(end)
            linked[end].add(start)
    seen, queue = set(nodes), deque(nodes)
    while queue:
        for following in linked[queue.popleft()]:
            if following not in seen:
                seen.add(following)
                queue.append(following)
    return seen


def _saves(values: dict[Position, int], shape: Shape, moves: dict, arcs: Arcs, candidate: Position,
           target: Position) -> bool:
    """Whether withholding `candidate` as well stops `target` being worked out: the same answer
    as exposed() with the candidate added, on the graph already built (its arcs are added, the
    question asked, and the arcs taken away again)."""
    up, down = _moves(values[candidate], Shown.WITHHELD, shape.sign(candidate))
    row, column = shape.nodes(candidate)
    moves[candidate] = (up, down)
    _add(arcs, shape, candidate, up, down)
    try:
        return not _open(target, moves, arcs, shape)
    finally:
        del moves[candidate]
        if down:
            arcs[column].pop()
        if up:
            arcs[row].pop()


@lru_cache(maxsize=4096)
def _suppressed(values: tuple[tuple[Position, int], ...], shape: Shape,
                forced: tuple[Position, ...]) -> dict[Position, Shown] | None:
    """suppress(), remembered: the same table gives the same answer, so the Board's reports for a
    period already looked at (and its CSV and PDF) are not worked out again. Each worker keeps
    the last 4,096 tables; the answer is copied, never shared."""
    return suppress(dict(values), shape, forced)


def protect(values: Sequence[Sequence[int]], *, columns: int | None = None, row_totals: bool = True,
            column_totals: bool = True, forced: Iterable[Position] = ()) -> Grid:
    """The table's counts, with its totals, as they may be published (see the module's notes).
    `columns` is needed only for a table with no rows. `forced` are positions (in the grid with
    its totals) that must be withheld, e.g. because another table withholds the same figure."""
    rows = len(values)
    columns = columns if columns is not None else (len(values[0]) if values else 0)
    shape = Shape(rows, columns, row_totals, column_totals)
    grid_values = with_totals(values, shape)
    found = _suppressed(tuple(sorted(grid_values.items())), shape, tuple(sorted(forced)))
    states = dict(found) if found is not None else None
    whole = states is None
    if whole:
        states = {p: Shown.WITHHELD for p in grid_values}

    return Grid(shape=shape, counts={p: Count(v, states.get(p, Shown.SHOWN)) for p, v in grid_values.items()},  # type: ignore[union-attr]
                whole_table_withheld=whole)
