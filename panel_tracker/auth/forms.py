from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, NumberRange

from ..formutil import options
from .models import Role


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email()])
    password = PasswordField("Password", validators=[DataRequired()])
    next = HiddenField()


class SetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(min=12, message="At least 12 characters.")])
    confirm = PasswordField("Repeat it", validators=[DataRequired(), EqualTo("password", message="The two passwords differ.")])


class SwitchPanelForm(FlaskForm):
    panel_id = IntegerField(validators=[DataRequired()])


class TokenForm(FlaskForm):
    name = StringField("Name (what it is for)", validators=[DataRequired(), Length(max=100)])
    role = SelectField("Rights", choices=options((r.value, r.value) for r in Role))
    days = IntegerField("Valid for (days)", default=90, validators=[DataRequired(), NumberRange(min=1, max=365)])


class ConfirmForm(FlaskForm):
    """A POST with nothing but the CSRF token (revoke, log out)."""


class CodeForm(FlaskForm):
    code = StringField("Code from your authenticator app, or a recovery code",
                       validators=[DataRequired(), Length(max=40)], render_kw={"autocomplete": "one-time-code"})


class EnrolForm(FlaskForm):
    code = StringField("The 6-digit code your app shows now", validators=[DataRequired(), Length(max=10)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class PasswordCheckForm(FlaskForm):
    password = PasswordField("Your password", validators=[DataRequired()])


class TimeZoneForm(FlaskForm):
    time_zone = StringField("Time zone", validators=[DataRequired(message="Give a time zone, e.g. Asia/Aden or UTC."),
                                                     Length(max=64)],
                            description="An IANA name such as Asia/Aden, Africa/Tripoli or America/New_York. "
                                        "Pages show every time in it; what is stored stays in UTC.",
                            render_kw={"list": "time-zones", "autocomplete": "off", "spellcheck": "false"})


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    password = PasswordField("New password", validators=[DataRequired(), Length(min=12, message="At least 12 characters.")])
    confirm = PasswordField("Repeat it", validators=[DataRequired(), EqualTo("password", message="The two passwords differ.")])
