"""Test data for the action log pages: a case led by agency A (which owns the action) with agency B
involved and agency C not, and one user for each kind of reader the issue names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from panel.actions import services
from panel.dates import london_today
from panel.extensions import db
from panel.models import Action, ActionStatus, Case, LadderStep, Role, User
from tests import factories
from tests.cases.helpers import create_case


@dataclass
class World:
    case: Case
    action: Action
    users: dict[str, User]
    agencies: dict

    def user(self, who: str) -> User:
        return self.users[who]


def today() -> date:
    return london_today()


def build(*, given_name: str = "Zebedee", family_name: str = "Quaintly") -> World:
    host = factories.create_agency(code="host-council", name="Host Council")
    a = factories.create_agency(code="agency-a", name="Agency A")
    b = factories.create_agency(code="agency-b", name="Agency B")
    c = factories.create_agency(code="agency-c", name="Agency C")
    users = {
        "coordinator": factories.create_user(role=Role.COORDINATOR, agency=host, name="Casey Coordinator",
                                             email="coordinator@test.invalid"),
        "chair": factories.create_user(role=Role.CHAIR, agency=host, name="Charlie Chair", email="chair@test.invalid"),
        "spoc": factories.create_user(role=Role.SPOC, agency=a, name="Sam Spoc", email="spoc.a@test.invalid"),
        "deputy": factories.create_user(role=Role.SPOC, agency=a, name="Dee Deputy", email="deputy.a@test.invalid"),
        "assignee": factories.create_user(role=Role.PRACTITIONER, agency=a, name="Pat Assignee",
                                          email="pat.a@test.invalid"),
        "other practitioner": factories.create_user(role=Role.PRACTITIONER, agency=a, name="Oli Other",
                                                    email="oli.a@test.invalid"),
        "contact": factories.create_user(role=Role.PRACTITIONER, agency=a, name="Esme Escalation",
                                         email="esme.a@test.invalid"),
        "involved spoc": factories.create_user(role=Role.SPOC, agency=b, name="Bo Bspoc", email="spoc.b@test.invalid"),
        "outside spoc": factories.create_user(role=Role.SPOC, agency=c, name="Cy Cspoc", email="spoc.c@test.invalid"),
        "outside practitioner": factories.create_user(role=Role.PRACTITIONER, agency=c, email="prac.c@test.invalid"),
        "board": factories.create_user(role=Role.BOARD, agency=host, email="board@test.invalid"),
        "admin": factories.create_user(role=Role.ADMIN, agency=host, email="admin@test.invalid"),
    }
    a.spoc, a.deputy_spoc, a.escalation_contact = users["spoc"], users["deputy"], users["contact"]
    b.spoc, c.spoc = users["involved spoc"], users["outside spoc"]
    case = create_case(lead=a, involved=(b,), given_name=given_name, family_name=family_name)
    db.session.flush()
    db.session.refresh(case)
    action = services.create_action(case, description="Arrange a joint visit with the housing officer",
                                    agency=a, due_on=today() + timedelta(days=14), by=users["coordinator"],
                                    assignee=users["assignee"])
    return World(case=case, action=action, users=users, agencies={"host": host, "a": a, "b": b, "c": c})


def add_actions(world: World, n: int, *, overdue: bool = False, agency=None) -> list[Action]:
    """n more open actions on the world's case, made directly (a past due date is allowed)."""
    agency = agency or world.agencies["a"]
    due = today() - timedelta(days=3) if overdue else today() + timedelta(days=10)
    actions = [Action(case_id=world.case.id, description=f"Action number {i}", agency_id=agency.id,
                      assignee_id=world.users["assignee"].id, due_on=due, status=ActionStatus.OPEN,
                      created_by_id=world.users["coordinator"].id, next_step=LadderStep.REMINDER,
                      next_step_on=due) for i in range(n)]
    db.session.add_all(actions)
    db.session.flush()
    return actions
