"""The form on the reply page an invitation's "I can attend" and "I cannot attend" links open."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSubmitInput
from wtforms import RadioField, SelectChoice, SubmitField
from wtforms.validators import InputRequired

from panel.models import AttendeeResponse

CHOICES = [
    SelectChoice(AttendeeResponse.ACCEPTED.value, "Yes, I can attend"),
    SelectChoice(AttendeeResponse.TENTATIVE.value, "I might be able to attend"),
    SelectChoice(AttendeeResponse.DECLINED.value, "No, I cannot attend"),
]
ANSWERS = {choice.value for choice in CHOICES}


class InvitationReplyForm(FlaskForm):
    answer = RadioField("Can you attend?", widget=GovRadioInput(), choices=CHOICES,
                        validators=[InputRequired("Select whether you can attend")],
                        invalid_value_message="Select whether you can attend",
                        invalid_choice_message="Select whether you can attend")
    submit = SubmitField("Send your reply", widget=GovSubmitInput())

    @property
    def response(self) -> AttendeeResponse:
        return AttendeeResponse(self.answer.data)


def reply_form(suggested: str | None) -> InvitationReplyForm:
    """The form, with the answer the link chose ticked when the page is first shown (a GET)."""
    return InvitationReplyForm(data={"answer": suggested} if suggested in ANSWERS else None)
