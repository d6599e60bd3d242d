"""Forms for reports, annexes, blocks and builds (CSRF on each, Flask-WTF).

A block's form is its kind's (:data:`BLOCK_FORMS`): the fields every block has (key,
caption, source line, classification) and those of its settings, which
:meth:`BlockForm.settings` turns into what the kind's ``check`` takes. A kind without a
form of its own here (a kind another domain registers later) gets its settings as JSON.
"""
from __future__ import annotations

import json
from datetime import date

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..classification import Classification
from ..formutil import IsoDateField, options
from ..validation import Invalid
from . import blocks
from .models import BuildFormat, Edition, ReportKind

LEVELS = [(c.value, c.label) for c in Classification]


class ReportForm(FlaskForm):
    title = StringField("Title", validators=[InputRequired(message="A report needs a title."), Length(max=300)],
                        description="e.g. Final report of the Panel of Experts on Yemen (2025)")
    kind = SelectField("Kind", choices=options((k.value, k.label) for k in ReportKind), default=ReportKind.FINAL.value)
    symbol = StringField("Document symbol", validators=[Length(max=40)],
                         description="S/2025/123 once the Secretariat gives it; empty until then.")
    cut_off = IsoDateField("Cut-off date", validators=[InputRequired(message="Give the cut-off date (YYYY-MM-DD).")],
                           description="Trace-request statuses are given as at this date.")
    show_withheld_notes = BooleanField("Say where something was withheld from an edition", default=True,
                                       description="A note such as “A figure withheld from this edition.” in its "
                                                   "place; the thing itself is never in the file.")

    def values(self) -> dict:
        return {"title": self.title.data or "", "kind": self.kind.data, "symbol": self.symbol.data or "",
                "cut_off": self.cut_off.data, "show_withheld_notes": bool(self.show_withheld_notes.data)}


class SymbolForm(FlaskForm):
    """A submitted report: only its document symbol may still be set."""

    symbol = StringField("Document symbol", validators=[Length(max=40)],
                         description="S/2025/123: the items' publication records follow it.")


class AnnexForm(FlaskForm):
    title = StringField("Title", validators=[InputRequired(message="An annex needs a title."), Length(max=300)],
                        description="e.g. Type 56-1 assault rifles seized off Nishtun, March 2024")
    classification = SelectField("Classification", choices=options(LEVELS), default=Classification.PANEL.value,
                                 description="An edition below this level leaves the whole annex out "
                                             "(its number stays, with a note).")
    intro = TextAreaField("Introduction (Markdown)", render_kw={"rows": 8},
                          description="Paragraphs, *emphasis*, **bold**, `markings`, lists. Cite a block by its "
                                      "key: [[fig:serial-closeup]] or [[table:rifles]] prints its current number "
                                      "(“Figure 3.2”).")

    def values(self) -> dict:
        return {"title": self.title.data or "", "classification": self.classification.data,
                "intro": self.intro.data or ""}


class ConfirmForm(FlaskForm):
    """A POST with nothing but its CSRF token (submit, delete, move)."""


class QuickBuildForm(FlaskForm):
    """A quick annex of a case's item sheets (the case page): an edition and a format."""

    edition = SelectField("Edition", choices=[], validate_choice=False)
    format = SelectField("Format", choices=options([(BuildFormat.PDF.value, "PDF"),
                                                   (BuildFormat.DOCX.value, "Word (DOCX)")]),
                         default=BuildFormat.PDF.value)

    def fill_editions(self, editions: list[Edition], *, preselect: bool = False) -> None:
        """The editions the reader's clearance allows (the most public preselected on the
        page; a request must name its edition)."""
        self.edition.choices = options((e.value, e.label) for e in editions)
        if preselect and self.edition.data is None and editions:
            self.edition.data = editions[0].value


class BuildForm(QuickBuildForm):
    """A build of a report's annexes (the report page): which annex, or all of them, too."""

    annex = SelectField("Annex", choices=[], validate_choice=False)

    def fill(self, numbered_annexes, editions: list[Edition], *, preselect: bool = False) -> None:
        self.annex.choices = options([("", "All annexes, in one file")] + [
            (str(annex.id), f"Annex {number}: {annex.title[:60]}") for number, annex in numbered_annexes])
        self.fill_editions(editions, preselect=preselect)


# ------------------------------------------------------------------ blocks


def _checkboxes(label: str, **kwargs) -> SelectMultipleField:
    return SelectMultipleField(label, choices=[], validate_choice=False, coerce=str,
                               widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(), **kwargs)


class BlockForm(FlaskForm):
    """What every block has; a kind's form adds its settings."""

    settings_field = ""  # where the kind's settings errors are shown (its first field)

    key = StringField("Key (optional)", validators=[Length(max=60)],
                      description="Names the block for cross-references: write [[fig:KEY]] or [[table:KEY]] in a "
                                  "text to print its number. Lower-case letters, digits, - and _.")
    caption = TextAreaField("Caption", render_kw={"rows": 2})
    source_line = StringField("Source line", validators=[Length(max=300)],
                              description="e.g. Source: Panel, 12 March 2024. Empty: the photos' own sources, "
                                          "else “Source: Panel”.")
    classification = SelectField("Classification", choices=options(LEVELS), default=Classification.PANEL.value,
                                 description="An edition below this level leaves the block out (with a note when "
                                             "the report says so).")

    def values(self) -> dict:
        return {"key": self.key.data or "", "caption": self.caption.data or "",
                "source_line": self.source_line.data or "", "classification": self.classification.data,
                "settings": self.settings()}

    def settings(self) -> dict:
        return {}

    def load(self, settings: dict, refs: dict[int, str]) -> None:
        """Fill the settings fields from a block's ``settings`` (``refs``: item id -> reference)."""


def _numbers(values) -> list[str]:
    return [str(n) for n in (values or [])]


class ItemSheetForm(BlockForm):
    settings_field = "item"
    item = StringField("Item reference", validators=[Length(max=60)], render_kw={"list": "item-refs"},
                       description="e.g. YEM-2024-009/04: its fields, its markings table and its photos.")
    photo_ids = _checkboxes("Photos (optional)", description="None ticked: all the item's photos, in the order "
                                                             "they were taken.")
    boxes = BooleanField("Draw the marking boxes on the photos", default=True)

    def settings(self) -> dict:
        return {"item": (self.item.data or "").strip(), "photo_ids": list(self.photo_ids.data or []),
                "boxes": bool(self.boxes.data)}

    def load(self, settings, refs):
        self.item.data = refs.get(settings.get("item_id"), "")
        self.photo_ids.data = _numbers(settings.get("photo_ids"))
        self.boxes.data = bool(settings.get("boxes", True))


class PhotoFigureForm(BlockForm):
    settings_field = "photo_ids"
    photo_ids = StringField("Photo numbers", validators=[Length(max=2000)],
                            description="As on each photo's page (“Photo 12”), separated by spaces or commas; "
                                        "printed in this order, lettered (a), (b)…")
    boxes = BooleanField("Draw the marking boxes on the photos")

    def settings(self) -> dict:
        return {"photo_ids": self.photo_ids.data or "", "boxes": bool(self.boxes.data)}

    def load(self, settings, refs):
        self.photo_ids.data = " ".join(_numbers(settings.get("photo_ids")))
        self.boxes.data = bool(settings.get("boxes", False))


class ItemTableForm(BlockForm):
    settings_field = "items"
    items = TextAreaField("Item references", validators=[Length(max=20_000)], render_kw={"rows": 4},
                          description="One per line (or separated by spaces): the table's rows, in this order.")
    columns = _checkboxes("Columns", default=list(blocks.DEFAULT_ITEM_COLUMNS))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.columns.choices = options(blocks.ITEM_COLUMNS.items())

    def settings(self) -> dict:
        return {"items": self.items.data or "", "columns": list(self.columns.data or [])}

    def load(self, settings, refs):
        self.items.data = "\n".join(refs.get(i, str(i)) for i in settings.get("item_ids") or [])
        self.columns.data = list(settings.get("columns") or blocks.DEFAULT_ITEM_COLUMNS)


class TraceStatusForm(BlockForm):
    settings_field = "as_at"
    as_at = IsoDateField("As at (optional)", validators=[Optional()],
                         description="Empty: the report's cut-off date.")

    def settings(self) -> dict:
        return {"as_at": self.as_at.data.isoformat() if isinstance(self.as_at.data, date) else ""}

    def load(self, settings, refs):
        try:
            self.as_at.data = date.fromisoformat(settings["as_at"]) if settings.get("as_at") else None
        except ValueError:
            self.as_at.data = None


class TextBlockForm(BlockForm):
    settings_field = "text"
    text = TextAreaField("Text (Markdown)", render_kw={"rows": 10},
                         description="Paragraphs, *emphasis*, **bold**, `markings`, lists; [[fig:KEY]] prints a "
                                     "figure's current number.")

    def settings(self) -> dict:
        return {"text": self.text.data or ""}

    def load(self, settings, refs):
        self.text.data = settings.get("text", "")


class SettingsJsonForm(BlockForm):
    """A kind registered without a form here: its settings as JSON."""

    settings_field = "settings_json"
    settings_json = TextAreaField("Settings (JSON)", validators=[Length(max=100_000)], render_kw={"rows": 6},
                                  default="{}")

    def settings(self) -> dict:
        try:
            value = json.loads(self.settings_json.data or "{}")
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise Invalid({"settings_json": "Settings are a JSON object, such as {\"text\": \"…\"}."})
        return value

    def load(self, settings, refs):
        self.settings_json.data = json.dumps(settings, ensure_ascii=False, indent=1)


BLOCK_FORMS: dict[str, type[BlockForm]] = {
    "item_sheet": ItemSheetForm,
    "photo_figure": PhotoFigureForm,
    "item_table": ItemTableForm,
    "trace_status": TraceStatusForm,
    "text": TextBlockForm,
}


def block_form_class(kind_name: str) -> type[BlockForm]:
    return BLOCK_FORMS.get(kind_name, SettingsJsonForm)
