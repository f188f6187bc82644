"""Two attackers on a published Board table, written apart from panel.reports.disclosure (they
share nothing with it but the published grid), for the tests to throw at every suppressed count:

- `determined_by_totals`: the differences a reader can take. Every row and column that has a
  total is an equation; the shown counts are put in; a suppressed count is worked out when it is
  a combination of those equations (Gaussian elimination over fractions). Knows nothing of bounds.
- `possible_values`: everything a reader knows: the equations, whole numbers, "fewer than 5" is
  1 to 4 and "withheld" is 5 or more (zero and 1 to 4 would read otherwise). Searches every
  consistent table (up to a ceiling) and gives, for each suppressed count, the values it could take.
"""

from __future__ import annotations

from fractions import Fraction

from panel.reports.disclosure import Grid, Position, Shown


def lines(grid: Grid) -> list[tuple[list[Position], Position]]:
    """(the cells, their total) for every row and column that has a total."""
    shape = grid.shape
    out = []
    if shape.row_totals:
        for r in range(shape.rows + shape.column_totals):
            out.append(([(r, c) for c in range(shape.columns)], (r, shape.columns)))
    if shape.column_totals:
        for c in range(shape.columns + shape.row_totals):
            out.append(([(r, c) for r in range(shape.rows)], (shape.rows, c)))
    return out


def _published(grid: Grid) -> tuple[dict[Position, int], list[Position]]:
    known = {p: c.raw for p, c in grid.counts.items() if not c.suppressed}
    unknown = sorted(p for p, c in grid.counts.items() if c.suppressed)
    return known, unknown


def _rank(rows: list[list[Fraction]]) -> int:
    rows = [list(r) for r in rows]
    rank, columns = 0, len(rows[0]) if rows else 0
    for c in range(columns):
        pivot = next((i for i in range(rank, len(rows)) if rows[i][c] != 0), None)
        if pivot is None:
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        for i in range(len(rows)):
            if i != rank and rows[i][c] != 0:
                factor = rows[i][c] / rows[rank][c]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[rank], strict=True)]
        rank += 1
    return rank


def determined_by_totals(grid: Grid) -> list[Position]:
    """The suppressed positions whose value the row and column sums alone give away."""
    _, unknown = _published(grid)
    if not unknown:
        return []
    index = {p: i for i, p in enumerate(unknown)}
    equations = []
    for members, total in lines(grid):
        row = [Fraction(0)] * len(unknown)
        for p in members:
            if p in index:
                row[index[p]] += 1
        if total in index:
            row[index[total]] -= 1
        if any(row):
            equations.append(row)
    base = _rank(equations) if equations else 0
    out = []
    for p, i in index.items():
        unit = [Fraction(int(j == i)) for j in range(len(unknown))]
        if equations and _rank([*equations, unit]) == base:
            out.append(p)
    return out


class _Enough(Exception):
    pass


def _settle(equations: list[tuple[list[Position], Position]], domain: dict[Position, range],
            assigned: dict[Position, int]) -> dict[Position, int] | None:
    """Fill in every count a row or column gives once all its other counts are known; None when
    the counts cannot add up."""
    assigned = dict(assigned)
    changed = True
    while changed:
        changed = False
        for members, total in equations:
            missing = [p for p in (*members, total) if p not in assigned]
            if not missing:
                if sum(assigned[m] for m in members) != assigned[total]:
                    return None
                continue
            if len(missing) > 1:
                continue
            p = missing[0]
            value = (sum(assigned[m] for m in members) if p == total
                     else assigned[total] - sum(assigned[m] for m in members if m != p))
            if value not in domain[p]:
                return None
            assigned[p] = value
            changed = True
    return assigned


def possible_values(grid: Grid, ceiling: int | None = None) -> dict[Position, set[int]]:
    """For each suppressed position, the values it takes in some table consistent with what is
    published (searching withheld counts up to `ceiling`). Stops early once every suppressed
    position has shown two values (it is then safe); runs to the end otherwise."""
    known, unknown = _published(grid)
    ceiling = ceiling or max([c.raw for c in grid.counts.values()] + [5]) + 6
    domain = {p: range(1, 5) if grid.at(p).state == Shown.SMALL else range(5, ceiling + 1) for p in unknown}
    equations = lines(grid)
    seen: dict[Position, set[int]] = {p: set() for p in unknown}

    def search(assigned: dict[Position, int]) -> None:
        settled = _settle(equations, domain, assigned)
        if settled is None:
            return
        free = [p for p in unknown if p not in settled]
        if not free:
            for p in unknown:
                seen[p].add(settled[p])
            if all(len(v) >= 2 for v in seen.values()):
                raise _Enough
            return
        first = free[0]
        # try values near the published table's first, so that a safe table finishes quickly
        for value in sorted(domain[first], key=lambda v: abs(v - grid.at(first).raw)):
            search({**settled, first: value})

    try:
        search(known)
    except _Enough:
        pass
    return seen


def recoverable(grid: Grid) -> list[Position]:
    """Suppressed positions a reader could work out, by either attacker."""
    by_values = [p for p, values in possible_values(grid).items() if len(values) < 2]
    return sorted(set(determined_by_totals(grid)) | set(by_values))
