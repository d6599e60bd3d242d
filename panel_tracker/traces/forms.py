"""Forms for addressees, letters, their steps and replies (CSRF on each, Flask-WTF)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from .. import countries
from ..classification import Classification
from ..formutil import IsoDateField, options
from .models import AddresseeKind, AddresseeRole, ItemOutcome, LetterKind, LetterStatus, Outcome


def _choices(enum, blank: str | None = None, label=lambda m: m.value.replace("_", " ")):
    return options(([("", blank)] if blank is not None else []) + [(m.value, label(m)) for m in enum])


class AddresseeForm(FlaskForm):
    kind = SelectField("Kind", choices=_choices(AddresseeKind), default="state")
    country = SelectField("Country", choices=[], validate_choice=False,
                          description="For a State, the State itself (its UN name is used).")
    name = StringField("Name", validators=[Length(max=300)], description="Not needed for a State.")
    role = SelectField("Role", choices=_choices(AddresseeRole, blank="—"))
    channel = StringField("Contact channel", validators=[Length(max=300)],
                          description="e.g. Permanent Mission in New York; e-mail; postal address")
    notes = TextAreaField("Notes")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = options(countries.choices())


class LetterForm(FlaskForm):
    kind = SelectField("Kind of letter", choices=_choices(LetterKind, label=lambda k: k.label))
    addressee_id = SelectField("Addressee", choices=[], validate_choice=False)
    subject = StringField("Subject", validators=[Length(max=300)])
    body = TextAreaField("Paragraphs of this letter", description="Goes into the panel's letter template.")
    reply_by = IsoDateField("Reply by (optional)", validators=[Optional()],
                         description="Instead of the panel's reply days; right-of-reply letters usually have one.")
    item_ids = SelectMultipleField("Items", choices=[], validate_choice=False, coerce=str)
    notes = TextAreaField("Internal notes")


class SendForm(FlaskForm):
    sent_on = IsoDateField("Sent on", validators=[InputRequired(message="Give the date it was sent.")])
    reference = StringField("Reference", validators=[Length(max=120)], description="e.g. S/AC.XX/2024/PE/OC.12")
    channel = StringField("Channel", validators=[Length(max=120)], default="note verbale via the Permanent Mission")


class MoveForm(FlaskForm):
    to = SelectField("New status", choices=_choices(
        [LetterStatus.ACKNOWLEDGED, LetterStatus.CLOSED, LetterStatus.WITHDRAWN]))
    on = IsoDateField("On", validators=[InputRequired(message="Give the date.")])
    outcome = SelectField("Outcome (when closing)", choices=_choices(Outcome, blank="—"), validate_choice=False)
    note = StringField("Note", validators=[Length(max=500)])


class ReminderForm(FlaskForm):
    on = IsoDateField("Reminder sent on", validators=[InputRequired(message="Give the date.")])
    note = StringField("Note", validators=[Length(max=500)])


class CorrectForm(FlaskForm):
    to = SelectField("Back to", choices=_choices(
        [s for s in LetterStatus if s != LetterStatus.WITHDRAWN]))
    reason = StringField("Why", validators=[DataRequired(message="Say why the status is corrected."),
                                            Length(max=500)])


class ReplyForm(FlaskForm):
    received_on = IsoDateField("Received on", validators=[InputRequired(message="Give the date the reply came.")])
    summary = TextAreaField("Summary", validators=[DataRequired(message="Summarise the reply.")])
    complete = BooleanField("This reply answers the letter in full")
    documents = MultipleFileField("Documents (PDF or scans)")


ITEM_OUTCOME_CHOICES = options([("", "— no answer on this item —")] + [(o.value, o.label) for o in ItemOutcome])


class TemplateForm(FlaskForm):
    body = TextAreaField("Letter body template", validators=[DataRequired()])


class FollowUpForm(FlaskForm):
    pass


class ClassifyLetterForm(FlaskForm):
    level = SelectField("Classification", choices=_choices(Classification))
    confirm_public = BooleanField("I confirm this may be published")
