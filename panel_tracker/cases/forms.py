"""Forms for cases, inspections, items and markings. Field errors render next to the field;
the services re-check every rule, so the API and imports are held to the same ones."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, FloatField, HiddenField, IntegerField, SelectField, StringField,
                     TextAreaField)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from .. import countries
from ..formutil import options
from ..classification import Classification
from .models import (AccessMode, CaseStatus, Category, Condition, Confidence, Legibility, MarkingKind, Script,
                     SymbolShape, YearCalendar)


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
    ref = StringField("Reference", validators=[DataRequired(), Length(max=32)],
                      description="Panel code, year opened, number: e.g. YEM-2024-017")
    title = StringField("Title", validators=[Length(max=300)])
    summary = TextAreaField("Summary")
    status = SelectField("Status", choices=_choices(CaseStatus), default="open")
    country_of_seizure = SelectField("Country of seizure", default="", choices=[])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country_of_seizure.choices = countries.choices()

    def values(self) -> dict:
        return _values(self)


class InspectionForm(FlaskForm):
    inspected_on = DateField("Date", validators=[DataRequired(message="The date of the inspection.")])
    place = StringField("Place", validators=[Length(max=300)])
    custodian = StringField("Custodian", validators=[Length(max=300)],
                            description="The State or force that holds the materiel")
    access_mode = SelectField("Access", choices=_choices(AccessMode), default="physical")
    inspectors = StringField("Inspected by", validators=[Length(max=500)])
    notes = TextAreaField("Notes")


class ItemForm(FlaskForm):
    item_ref = StringField("Item reference", validators=[Length(max=40)],
                           description="Leave empty for the next number in the case")
    inspection_id = SelectField("Inspection", default="", choices=[])
    category = SelectField("Category", default="", choices=_choices(Category, "— choose —"))
    type = StringField("Type", validators=[DataRequired(message="Say what the item is, e.g. assault rifle (AK-pattern)."),
                                           Length(max=300)])
    make_marked = StringField("Make as marked", validators=[Length(max=200)])
    make_attributed = StringField("Make as attributed", validators=[Length(max=200)])
    attribution_basis = TextAreaField("Basis of the attribution")
    attribution_confidence = SelectField("Confidence", default="", choices=_choices(Confidence, "—"))
    model = StringField("Model", validators=[Length(max=120)])
    calibre_marked = StringField("Calibre as marked", validators=[Length(max=60)])
    calibre = StringField("Calibre (normalised)", validators=[Length(max=60)], description="e.g. 7.62x39mm")
    country_marked = SelectField("Country of manufacture as marked", default="", choices=[])
    country_attributed = SelectField("Country of manufacture as attributed", default="", choices=[])
    year_marked = StringField("Year as marked", validators=[Length(max=40)], description="Verbatim: 1976, 85, ۱۳۹۶")
    year_calendar = SelectField("Calendar of that year", default="", choices=_choices(YearCalendar, "not confirmed"))
    year_gregorian = IntegerField("Gregorian year", validators=[Optional()])
    serial = StringField("Serial as read", validators=[Length(max=120)], description="? for an unreadable character")
    serial_legibility = SelectField("Serial legibility", default="", choices=_choices(Legibility, "no serial"))
    lot = StringField("Lot", validators=[Length(max=120)])
    factory_code = StringField("Factory code", validators=[Length(max=60)])
    headstamp = StringField("Headstamp", validators=[Length(max=120)], description="e.g. 71 85")
    import_mark = StringField("Import mark", validators=[Length(max=200)])
    other_marks = TextAreaField("Other marks")
    quantity = IntegerField("Quantity", default=1, validators=[DataRequired(message="At least 1."), NumberRange(min=1)])
    condition = SelectField("Condition", default="", choices=_choices(Condition, "—"))
    recovered_on = StringField("Recovered on", validators=[Length(max=10)], description="YYYY-MM-DD, YYYY-MM or YYYY")
    recovered_place = StringField("Recovered at", validators=[Length(max=300)])
    lat = FloatField("Latitude", validators=[Optional(), NumberRange(-90, 90)])
    lon = FloatField("Longitude", validators=[Optional(), NumberRange(-180, 180)])
    suspected_imitation = BooleanField("Suspected imitation markings")
    state_ownership_mark = BooleanField("Carries a State-ownership mark")
    notes = TextAreaField("Notes (source details)")

    def __init__(self, *args, inspections=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.country_marked.choices = self.country_attributed.choices = countries.choices()
        self.inspection_id.choices = [("", "— none —")] + [
            (str(i.id), f"{i.inspected_on} {i.place}") for i in inspections]

    def values(self) -> dict:
        return _values(self)


class MarkingForm(FlaskForm):
    text = StringField("Text exactly as read", validators=[DataRequired(message="Type the marking as read."),
                                                          Length(max=300)])
    kind = SelectField("Kind", choices=_choices(MarkingKind), default="serial")
    location = StringField("Where on the item", validators=[Length(max=120)], description="receiver, barrel, bolt…")
    script = SelectField("Script", default="", choices=_choices(Script, "detect"))
    legibility = SelectField("Legibility", choices=_choices(Legibility), default="intact")
    symbol_shape = SelectField("Symbol around it", choices=_choices(SymbolShape), default="none")
    notes = TextAreaField("Notes")

    def values(self) -> dict:
        return _values(self)


class MarkingPhotoForm(FlaskForm):
    photo_id = SelectField("Photo", coerce=int, choices=[])
    box_x = FloatField(validators=[Optional()])
    box_y = FloatField(validators=[Optional()])
    box_w = FloatField(validators=[Optional()])
    box_h = FloatField(validators=[Optional()])


class DeleteForm(FlaskForm):
    reason = StringField("Why", validators=[DataRequired(message="Say why; it goes into the audit log."),
                                            Length(max=500)])


class ClassifyForm(FlaskForm):
    field = HiddenField(default="classification")
    level = SelectField("Classification", choices=options((c.value, c.label) for c in Classification))
    confirm_public = BooleanField("I confirm this may be published")


class SightingForm(FlaskForm):
    sighting_of = StringField("Earlier item reference (empty to unlink)", validators=[Length(max=40)])
