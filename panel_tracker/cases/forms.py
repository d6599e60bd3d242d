"""Forms for cases, inspections, items and markings. Field errors render next to the field;
the services re-check every rule, so the API and imports are held to the same ones."""
from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import (BooleanField, FloatField, HiddenField, IntegerField, SelectField, StringField,
                     TextAreaField, ValidationError)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from .. import countries
from ..formutil import IsoDateField, options
from ..classification import Classification
from ..validation import too_long
from .models import (AccessMode, Case, CaseStatus, Category, Condition, Confidence, Inspection, ItemBase, Legibility,
                     Marking, MarkingKind, Script, SymbolShape, YearCalendar, max_lengths)


class MaxLength:
    """A field's length limit from the model's field list, with the words the API and the
    import use; the browser is told too (``maxlength``)."""

    def __init__(self, model, name: str):
        self.max = max_lengths(model)[name]
        self.field_flags = {"maxlength": self.max}

    def __call__(self, form, field) -> None:
        if field.data and len(field.data) > self.max:
            raise ValidationError(too_long(len(field.data), self.max))


def _item_label(name: str) -> str:
    return ItemBase.model_fields[name].title


def _item_text(name: str, field=StringField, validators=(), **kwargs):
    """An item form field with the label and the length limit of the item's field list."""
    return field(_item_label(name), validators=[*validators, MaxLength(ItemBase, name)], **kwargs)


# The item rules are shared with the import, whose messages name columns (``serial_legibility``,
# ``lon``); on the form the same words are the fields' labels.
_FIELD_NAMES = re.compile(r"\b(%s)\b" % "|".join(
    sorted((n for n in ItemBase.model_fields if "_" in n or n in ("lat", "lon")), key=len, reverse=True)))


def labelled(errors: dict[str, str]) -> dict[str, str]:
    """A service's item errors as the form words them: field names become labels."""
    out = {}
    for name, message in errors.items():
        text = _FIELD_NAMES.sub(lambda m: _item_label(m.group(1)).lower(), message)
        out[name] = text[:1].upper() + text[1:]
    return out


def _choices(enum, blank: str | None = None):
    items = [(m.value, m.value.replace("_", " ")) for m in enum]
    return options(([("", blank)] if blank is not None else []) + items)


def _values(form) -> dict:
    """The form's data for a service: empty choices become None, ids become ints."""
    data = {name: field.data for name, field in form._fields.items() if name != "csrf_token"}
    for name, field in form._fields.items():
        if field.type == "SelectField" and data[name] == "":
            data[name] = None
        elif field.type in ("StringField", "TextAreaField") and data[name] is None:
            data[name] = ""
    if data.get("inspection_id"):
        data["inspection_id"] = int(data["inspection_id"])
    return data


class CaseForm(FlaskForm):
    ref = StringField("Reference", validators=[DataRequired(), MaxLength(Case, "ref")],
                      description="Panel code, year opened, number: e.g. YEM-2024-017")
    title = StringField("Title", validators=[MaxLength(Case, "title")])
    summary = TextAreaField("Summary", validators=[MaxLength(Case, "summary")])
    status = SelectField("Status", choices=_choices(CaseStatus), default="open")
    country_of_seizure = SelectField("Country of seizure", default="", choices=[])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country_of_seizure.choices = countries.choices()

    def values(self) -> dict:
        return _values(self)


class InspectionForm(FlaskForm):
    inspected_on = IsoDateField("Date", validators=[InputRequired(message="Give the date of the inspection.")])
    place = StringField("Place", validators=[MaxLength(Inspection, "place")])
    custodian = StringField("Custodian", validators=[MaxLength(Inspection, "custodian")],
                            description="The State or force that holds the materiel")
    access_mode = SelectField("Access", choices=_choices(AccessMode), default="physical")
    inspectors = StringField("Inspected by", validators=[MaxLength(Inspection, "inspectors")])
    notes = TextAreaField("Notes", validators=[MaxLength(Inspection, "notes")])


class ItemForm(FlaskForm):
    """Labels and length limits come from the item's field list (``models.ItemBase``)."""

    item_ref = _item_text("item_ref", description="Leave empty for the next number in the case")
    inspection_id = SelectField(_item_label("inspection_id"), default="", choices=[])
    category = SelectField(_item_label("category"), default="", choices=_choices(Category, "— choose —"),
                           validators=[DataRequired(message="Choose a category.")])
    type = _item_text("type", validators=[DataRequired(message="Say what the item is, e.g. assault rifle (AK-pattern).")])
    make_marked = _item_text("make_marked")
    make_attributed = _item_text("make_attributed")
    attribution_basis = _item_text("attribution_basis", TextAreaField)
    attribution_confidence = SelectField(_item_label("attribution_confidence"), default="",
                                         choices=_choices(Confidence, "—"))
    model = _item_text("model")
    calibre_marked = _item_text("calibre_marked")
    calibre = _item_text("calibre", description="e.g. 7.62x39mm")
    country_marked = SelectField(_item_label("country_marked"), default="", choices=[])
    country_attributed = SelectField(_item_label("country_attributed"), default="", choices=[])
    year_marked = _item_text("year_marked", description="Verbatim: 1976, 85, ۱۳۹۶")
    year_calendar = SelectField(_item_label("year_calendar"), default="",
                                choices=_choices(YearCalendar, "not confirmed"))
    year_gregorian = IntegerField(_item_label("year_gregorian"), validators=[Optional()])
    serial = _item_text("serial", description="? for an unreadable character")
    serial_legibility = SelectField(_item_label("serial_legibility"), default="",
                                    choices=_choices(Legibility, "no serial"))
    lot = _item_text("lot")
    factory_code = _item_text("factory_code")
    headstamp = _item_text("headstamp", description="e.g. 71 85")
    import_mark = _item_text("import_mark")
    other_marks = _item_text("other_marks", TextAreaField)
    quantity = IntegerField(_item_label("quantity"), default=1,
                            validators=[DataRequired(message="At least 1."), NumberRange(min=1)])
    condition = SelectField(_item_label("condition"), default="", choices=_choices(Condition, "—"))
    recovered_on = _item_text("recovered_on", description="YYYY-MM-DD, YYYY-MM or YYYY")
    recovered_place = _item_text("recovered_place")
    lat = FloatField(_item_label("lat"), validators=[Optional(), NumberRange(-90, 90)])
    lon = FloatField(_item_label("lon"), validators=[Optional(), NumberRange(-180, 180)])
    suspected_imitation = BooleanField(_item_label("suspected_imitation"))
    state_ownership_mark = BooleanField(_item_label("state_ownership_mark"))
    notes = _item_text("notes", TextAreaField)

    def __init__(self, *args, inspections=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.country_marked.choices = self.country_attributed.choices = countries.choices()
        self.inspection_id.choices = [("", "— none —")] + [
            (str(i.id), f"{i.inspected_on} {i.place}") for i in inspections]

    def values(self) -> dict:
        return _values(self)


class MarkingForm(FlaskForm):
    text = StringField("Text exactly as read", validators=[DataRequired(message="Type the marking as read."),
                                                          MaxLength(Marking, "text")])
    # No default: a marking saved as a serial because nobody chose is a wrong record.
    kind = SelectField("Kind", choices=_choices(MarkingKind, "— choose —"), default="",
                       validators=[DataRequired(message="Choose what kind of marking this is.")])
    location = StringField("Where on the item", validators=[MaxLength(Marking, "location")],
                           description="receiver, barrel, bolt…")
    script = SelectField("Script", default="", choices=_choices(Script, "detect"))
    legibility = SelectField("Legibility", choices=_choices(Legibility), default="intact")
    symbol_shape = SelectField("Symbol around it", choices=_choices(SymbolShape), default="none")
    notes = TextAreaField("Notes", validators=[MaxLength(Marking, "notes")])

    def values(self) -> dict:
        return _values(self)


class DeleteForm(FlaskForm):
    reason = StringField("Why", validators=[DataRequired(message="Say why; it goes into the audit log."),
                                            Length(max=500)])


class ClassifyForm(FlaskForm):
    field = HiddenField(default="classification")
    level = SelectField("Classification", choices=options((c.value, c.label) for c in Classification))
    confirm_public = BooleanField("I confirm this may be published")


class SightingForm(FlaskForm):
    sighting_of = StringField("Earlier item reference (empty to unlink)", validators=[Length(max=40)])
