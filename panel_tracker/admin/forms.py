from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField
from wtforms.validators import DataRequired, Email, InputRequired, Length

from ..auth.models import Role
from ..formutil import IsoDateField, WholeNumberField, options

ROLE_CHOICES = options((r.value, r.value) for r in Role)


class MemberForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField("Full name", validators=[DataRequired(), Length(max=200)])
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.EXPERT.value)
    mandate_start = IsoDateField("Mandate starts", validators=[])
    mandate_end = IsoDateField("Mandate ends", validators=[])


class MembershipForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)
    mandate_start = IsoDateField("Mandate starts", validators=[])
    mandate_end = IsoDateField("Mandate ends", validators=[])
    active = BooleanField("Active")


class PanelSettingsForm(FlaskForm):
    name = StringField("Panel name", validators=[DataRequired(), Length(max=200)])
    regime = StringField("Sanctions regime", validators=[Length(max=200)])
    acknowledgement_due_days = WholeNumberField(
        "Acknowledgement due (days after a letter is sent)", maximum=365,
        validators=[InputRequired("Give the number of days, from 1 to 365.")])
    reply_due_days = WholeNumberField("Reply due (days after a letter is sent)", maximum=730,
                                      validators=[InputRequired("Give the number of days, from 1 to 730.")])
    reminder_interval_days = WholeNumberField("Remind every (days, once a letter is overdue)", default=30,
                                              maximum=365)
    min_independent_sources = WholeNumberField(
        "Independent sources a finding needs", maximum=10,
        validators=[InputRequired("Give the number of sources, from 1 to 10.")])
    require_two_factor = BooleanField(
        "Members must log in with a second factor (an authenticator app)",
        description="A member without it is sent to set it up after their password and can reach nothing else until then.")
    annex_withheld_notes = BooleanField(
        "Report annexes say where something was withheld from an edition",
        description="New reports start with this; a note such as \u201c2 photographs withheld from this edition\u201d "
                    "is printed where material classified above the edition was left out. Each report can change it.")


SETTING_FIELDS = ("acknowledgement_due_days", "reply_due_days", "reminder_interval_days", "min_independent_sources",
                  "require_two_factor", "annex_withheld_notes")
