"""The retention list at any size (issue 18): the due adults are worked out in SQL and a page of
50 is read and shown, soonest first, counted no further than DUE_CAP; a hold page reads only its
adult. The SQL must agree with the rule as people() applies it in Python, links and all."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from panel.dates import LONDON, london_to_utc
from panel.extensions import db as _db
from panel.models import Case, CaseStatus, Referral, ReferralStatus, RiskLevel, SubjectAccessRequest, SubjectAccessStatus
from panel.reports import remembered, retention
from tests.conftest import page
from tests.reports import retention_world
from tests.reports.retention_world import years_ago


def _due_by(today: date) -> list[retention.Due]:
    return retention.due(today, within_days=retention.NOTICE_DAYS)


def _shown(today: date) -> list[retention.Due]:
    found = retention.overview(today, page_of=lambda pages: 1)
    _db.session.rollback()  # the view's audit entry
    return found.due


def _declined_adult(world, n: int, on: date, *, marker: str = "BULK") -> retention_world.Adult:
    """An adult whose one referral was declined on `on` (London)."""
    person = retention_world._person(f"{marker}{n}MARK", "Bea", f"Bulk{n}", date(1970, 1, 1), "", "LU1 1AA")
    referral = retention_world._referral(world.police, person, f"{marker}{n}MARK", status=ReferralStatus.SUBMITTED,
                                         submitted=on - timedelta(days=20))
    retention_world._declined(referral, f"{marker}{n}MARK", on, world.coordinator)
    return retention_world.Adult(f"{marker}{n}MARK", person, [referral])


# ---- the SQL agrees with the rule ----------------------------------------------------------------


def _linked_copy(world) -> None:
    """The old adult's declined referral linked to their record; its own copy stays (two records, one adult)."""
    copy = retention_world._person("COPYMARK", "Olivia", "Oldrecord", date(1961, 2, 28), "", "LU1 2AB")
    world.old.referrals[0].referred_person_id = copy.id


def _open_referral_on_a_linked_record(world) -> None:
    """The mixed adult's open referral linked to the old adult: both are kept."""
    world.mixed.referrals[1].person_id = world.old.person_id
    world.mixed.referrals[1].referred_person_id = world.mixed.person_id


def _chain(world) -> None:
    """Three records in a chain: A's referral names B as its copy, B's referral's case is on C."""
    a = _declined_adult(world, 1, years_ago(world.today, 9), marker="CHAIN")
    b = _declined_adult(world, 2, years_ago(world.today, 9), marker="CHAIN")
    c = retention_world._person("CHAINCMARK", "Cy", "Chain", date(1960, 1, 1), "", "")
    a.referrals[0].referred_person_id = b.person_id
    b.referrals[0].status = ReferralStatus.ACCEPTED
    _db.session.add(Case(reference="CASPA-CHAIN-0001", person_id=c.id, referral_id=b.referrals[0].id,
                         status=CaseStatus.CLOSED, lead_agency=world.police, risk_level=RiskLevel.HIGH,
                         accepted_on=years_ago(world.today, 9), closed_on=years_ago(world.today, 7)))


def _chain_kept_by_its_far_end(world) -> None:
    """As _chain, but C also has a referral in triage: the whole chain is kept."""
    _chain(world)
    c = _db.session.scalar(sa.select(Case).where(Case.reference == "CASPA-CHAIN-0001"))
    retention_world._referral(world.police, _db.session.get(retention_world.Person, c.person_id), "CHAINOPEN",
                              status=ReferralStatus.SUBMITTED, submitted=world.today)


def _open_subject_access(world) -> None:
    _db.session.scalars(sa.select(SubjectAccessRequest)).one().status = SubjectAccessStatus.OPEN


def _due_in_the_notice_period(world) -> None:
    """Adults due in 0, 29, 30 and 31 days, and one declined at 23:30 London time on the last
    day in British Summer Time (22:30 UTC: the UTC date is the day before)."""
    for n, days in enumerate((0, 29, 30, 31)):
        _declined_adult(world, n, years_ago(world.today, 6, -days), marker="SOON")
    late = _declined_adult(world, 9, years_ago(world.today, 6, -30), marker="LATE")
    late.referrals[0].decided_at = london_to_utc(years_ago(world.today, 6, -30), datetime.min.time()) \
        + timedelta(hours=23, minutes=30)


@pytest.mark.parametrize("change", [None, _linked_copy, _open_referral_on_a_linked_record, _chain,
                                    _chain_kept_by_its_far_end, _open_subject_access, _due_in_the_notice_period])
def test_the_page_lists_exactly_the_adults_the_rule_finds(app, db, change):
    world = retention_world.build()
    if change is not None:
        change(world)
    db.session.commit()

    expected = _due_by(world.today)
    shown = _shown(world.today)

    assert [(a.person_id, a.person_ids, a.due_on, a.rule, a.hold is not None) for a in shown] == \
        [(a.person_id, a.person_ids, a.due_on, a.rule, a.hold is not None)
         for a in sorted(expected, key=lambda a: (a.ended_on, min(a.person_ids)))]
    assert shown, "the world always has adults due"
    everyone = retention.people()
    for adult in everyone:  # a hold page finds the same adult from any of its records
        for person_id in adult.person_ids:
            found = retention.adult(person_id)
            assert (found.person_ids, found.due_on, found.records) == (adult.person_ids, adult.due_on, adult.records)


def test_a_person_with_no_referral_or_anonymised_is_no_adult(app, db):
    world = retention_world.build()
    stray = retention_world._person("STRAYMARK", "Sam", "Stray", date(1980, 1, 1), "", "")
    db.session.commit()

    assert retention.adult(stray.id) is None
    retention.run_retention(world.today)
    assert retention.adult(world.old.person_id) is None
    assert world.old.person_id not in {a.person_id for a in _shown(world.today)}


@pytest.mark.parametrize(("until", "years", "last"), [
    (date(2026, 12, 7), 6, date(2020, 12, 7)),
    (date(2026, 3, 1), 6, date(2020, 3, 1)),     # 29 February 2020 is due on 1 March 2026
    (date(2026, 2, 28), 6, date(2020, 2, 28)),
    (date(2028, 2, 29), 6, date(2022, 2, 28)),   # no 29 February in 2022
    (date(2028, 2, 29), 4, date(2024, 2, 29)),
    (date(2027, 2, 28), 3, date(2024, 2, 28)),
])
def test_the_last_day_a_record_may_have_ended_and_be_due(until, years, last):
    assert retention.last_ended_day(until, years) == last
    assert retention.add_years(last, years) <= until < retention.add_years(last + timedelta(days=1), years)


def _instants() -> list[datetime]:
    """Around every clock change from 2016 to 2031 and around midnight on either side of them."""
    out = []
    for year in range(2016, 2032):
        for month in (3, 10):
            day = max(d for d in (date(year, month, 31) - timedelta(days=i) for i in range(7)) if d.weekday() == 6)
            change = datetime(day.year, day.month, day.day, 1, 0, tzinfo=timezone.utc)
            out += [change + timedelta(minutes=m) for m in (-61, -60, -1, 0, 1, 59, 60)]
            for midnight in (day - timedelta(days=1), day, day + timedelta(days=1)):
                utc_midnight = datetime(midnight.year, midnight.month, midnight.day, tzinfo=timezone.utc)
                out += [utc_midnight + timedelta(minutes=m) for m in (-61, -60, -1, 0, 1, 59, 60)]
    out += [datetime(2024, 7, 1, 23, 30, tzinfo=timezone.utc), datetime(2024, 1, 1, 23, 30, tzinfo=timezone.utc)]
    return out


def test_the_london_day_in_sql_is_pythons(app, db):
    instants = _instants()
    days = []
    for start in range(0, len(instants), 200):  # a compound SELECT of at most 200 (SQLite allows 500)
        moments = sa.union_all(*(sa.select(sa.literal(i, Referral.decided_at.type).label("moment"))
                                 for i in instants[start:start + 200])).subquery()
        days += db.session.execute(sa.select(retention._london_day(moments.c.moment))).scalars().all()

    assert [str(d)[:10] for d in days] == [i.astimezone(LONDON).date().isoformat() for i in instants]


# ---- a page at any size ------------------------------------------------------------------------------


@pytest.fixture
def crowd(app, db):
    """The world, and 60 more adults due, declined on 60 different days ten to eight years ago."""
    world = retention_world.build()
    for n in range(60):
        _declined_adult(world, n, years_ago(world.today, 8, 700 - n * 11))
    db.session.commit()
    return world


def test_the_list_shows_fifty_a_page_soonest_first(crowd, client, login_as, db, count_queries):
    login_as(crowd.coordinator)
    expected = [a.person_id for a in sorted(_due_by(crowd.today), key=lambda a: (a.ended_on, min(a.person_ids)))]
    assert len(expected) == 62 and retention.DUE_PAGE == 50

    def ids(url: str) -> list[int]:
        soup = page(client.get(url))
        return [int(tr["id"].removeprefix("person-")) for tr in soup.select("#due tbody tr")]

    remembered.forget()
    with count_queries() as first:
        one = ids("/retention")
    remembered.forget()  # each page works the list out: the same queries whatever the page
    with count_queries() as second:
        two = ids("/retention?page=2")
    with count_queries() as third:  # the list remembered for this state of the records
        again = ids("/retention?page=2")

    assert one + two == expected
    assert len(one) == 50 and first.count == second.count
    assert again == two and third.count == second.count - 2  # not the adults due, nor the linked records
    soup = page(client.get("/retention?page=2"))
    assert "51 to 62 of 62, soonest first" in soup.select_one("#due caption").get_text(" ", strip=True)
    assert soup.select_one(".govuk-pagination") is not None
    assert ids("/retention?page=99") == two  # past the end: the last page


def test_the_list_costs_the_same_queries_at_ten_times_the_size(app, client, login_as, db, count_queries):
    world = retention_world.build()
    db.session.commit()
    login_as(world.coordinator)

    def cost(url: str) -> int:
        with count_queries() as counter:
            assert client.get(url).status_code == 200
        return counter.count

    hold = db.session.scalar(sa.select(retention.LegalHold).where(retention.LegalHold.person_id == world.held.person_id,
                                                                  retention.LegalHold.lifted_at.is_(None)))
    urls = ("/retention", f"/retention/people/{world.old.person_id}/hold", f"/retention/holds/{hold.id}/lift")
    few = [cost(url) for url in urls]
    for n in range(40):
        _declined_adult(world, n, years_ago(world.today, 9, n))
    db.session.commit()

    assert [cost(url) for url in urls] == few


def test_beyond_the_cap_the_list_says_more_than(crowd, client, login_as, monkeypatch):
    monkeypatch.setattr(retention, "DUE_CAP", 30)
    login_as(crowd.coordinator)

    soup = page(client.get("/retention"))

    assert len(soup.select("#due tbody tr")) == 30  # the cap is below a page: one page of 30
    assert "1 to 30 of more than 30" in soup.select_one("#due caption").get_text(" ", strip=True)
    assert "counts no further than 30" in soup.select_one("#due-more").get_text()


def test_the_dates_are_london_dates_whatever_the_clock(app, db):
    """Run at 00:30 London time in summer (23:30 UTC the day before): the notice period runs
    from the London date."""
    with time_machine.travel(datetime(2026, 7, 1, 23, 30, tzinfo=timezone.utc), tick=False):
        world = retention_world.build()
        _db.session.commit()
        assert world.today == date(2026, 7, 2)
        assert {a.person_id for a in _shown(world.today)} == {a.person_id for a in _due_by(world.today)}


# ---- the list remembered for one state of the records ------------------------------------------------


def test_a_remembered_list_is_the_one_the_records_give_now(crowd, db, count_queries):
    """Worked out once for a state of the records: a write to the referrals, the cases or the
    people, or a subject-access request opened, and it is worked out again."""
    remembered.forget()
    with count_queries() as first:
        before = [a.person_id for a in _shown(crowd.today)]
    with count_queries() as again:
        assert [a.person_id for a in _shown(crowd.today)] == before
    assert again.count == first.count - 2  # those due and the linked records were remembered

    earliest = _declined_adult(crowd, 999, years_ago(crowd.today, 12), marker="NEWEST")  # due before all the others
    db.session.commit()
    after = [a.person_id for a in _shown(crowd.today)]
    assert after[0] == earliest.person.id and after[1:] == before[:retention.DUE_PAGE - 1]

    db.session.add(SubjectAccessRequest(person_id=earliest.person.id, status=SubjectAccessStatus.OPEN,
                                        received_on=crowd.today, due_on=crowd.today + timedelta(days=30)))
    db.session.commit()
    assert [a.person_id for a in _shown(crowd.today)] == before

    person = _db.session.get(retention.Person, before[0])
    person.anonymised_at = datetime.now(timezone.utc)  # as if anonymised by hand: no longer listed
    db.session.commit()
    assert [a.person_id for a in _shown(crowd.today)][:3] == before[1:4]


def test_the_token_follows_every_table_the_list_reads_but_the_requests(app, db):
    """The remembered list relies on the token the database changes on every write to the
    tables it reads; open subject-access requests, which the token does not follow, are part of
    the key instead (retention._due_labels)."""
    from sqlalchemy.sql.util import find_tables

    from tests.reports.test_board_remembered import triggered

    read = {table.name for table in find_tables(retention._due_labels_query(False), include_aliases=True,
                                                 include_joins=True, check_columns=True)
            if isinstance(table, sa.Table)}
    assert {"referrals", "cases", "persons", "subject_access_requests"} <= read
    pairs = triggered(_db.session.connection())
    for table in read - {"subject_access_requests"}:
        assert {(table, operation) for operation in ("insert", "update", "delete")} <= pairs, table
