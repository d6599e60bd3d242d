"""Forms of the search pages (POST forms carry a CSRF token; the search itself is a GET)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..formutil import IsoDateField


class BatchForm(FlaskForm):
    lines = TextAreaField("Serials, one per line", validators=[Optional(), Length(max=200_000)],
                          description="Paste a list (e.g. a State's list of exported serials) or upload a file.")
    file = FileField("or a text/CSV file (first column)")
    limit = IntegerField("Hits per line", default=20, validators=[Optional(), NumberRange(1, 200)])
    download = HiddenField(default="")


class SaveSearchForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    query = HiddenField()
    filters = HiddenField()
    notify = BooleanField("Tell me on the dashboard when a new item matches")


class DeleteSavedForm(FlaskForm):
    pass


class DateFiltersForm(FlaskForm):
    """The search's period filters, read from the query string (a GET: no CSRF token), typed
    as YYYY-MM-DD whatever the browser's locale, like every date of the app."""

    class Meta:
        csrf = False

    recovered_from = IsoDateField("Recovered from", validators=[Optional()])
    recovered_to = IsoDateField("to", validators=[Optional()])
