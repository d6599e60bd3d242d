from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, EmailField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional

from ..auth.models import Role
from ..formutil import options

ROLE_CHOICES = options((r.value, r.value) for r in Role)


class MemberForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField("Full name", validators=[DataRequired(), Length(max=200)])
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.EXPERT.value)
    mandate_start = DateField("Mandate starts", validators=[Optional()])
    mandate_end = DateField("Mandate ends", validators=[Optional()])


class MembershipForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)
    mandate_start = DateField("Mandate starts", validators=[Optional()])
    mandate_end = DateField("Mandate ends", validators=[Optional()])
    active = BooleanField("Active")


class PanelSettingsForm(FlaskForm):
    name = StringField("Panel name", validators=[DataRequired(), Length(max=200)])
    regime = StringField("Sanctions regime", validators=[Length(max=200)])
    acknowledgement_due_days = IntegerField(
        "Acknowledgement due (days after a letter is sent)", validators=[DataRequired(), NumberRange(1, 365)])
    reply_due_days = IntegerField("Reply due (days after a letter is sent)", validators=[DataRequired(), NumberRange(1, 730)])
    reminder_interval_days = IntegerField("Remind every (days, once a letter is overdue)", default=30,
                                          validators=[Optional(), NumberRange(1, 365)])
    min_independent_sources = IntegerField(
        "Independent sources a finding needs", validators=[DataRequired(), NumberRange(1, 10)])
    require_two_factor = BooleanField(
        "Members must log in with a second factor (an authenticator app)",
        description="A member without it is sent to set it up after their password and can reach nothing else until then.")


SETTING_FIELDS = ("acknowledgement_due_days", "reply_due_days", "reminder_interval_days", "min_independent_sources",
                  "require_two_factor")
