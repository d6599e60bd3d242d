"""Small helpers shared by the forms and the views that save them."""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from flask import flash
from wtforms import DateField, IntegerField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import TextInput


def options(pairs) -> list[SelectChoice]:
    """``[(value, label), …]`` as the SelectChoice objects WTForms 3.3+ expects."""
    return [SelectChoice(value, label) for value, label in pairs]


def show_errors(form, errors: dict[str, str], fallback: str | None = None) -> None:
    """Put a service's field errors next to their fields; others on ``fallback`` (a field
    name) or at the top of the form."""
    for name, message in errors.items():
        field = form._fields.get(name) or (form._fields.get(fallback) if fallback else None)
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)


def flash_errors(errors: dict[str, str]) -> None:
    """A service's refusals as messages at the top of the next page."""
    for message in errors.values():
        flash(message, "error")


def commit_or_flash(action: Callable, done: str | None = None) -> bool:
    """Run ``action(db)`` on the request's session and commit, flashing ``done``; when the
    service refuses (:class:`~panel_tracker.validation.Invalid`), roll back and flash why.
    True when saved. For the buttons whose page is a redirect either way."""
    from .db import get_session
    from .validation import Invalid

    db = get_session()
    try:
        action(db)
        db.commit()
    except Invalid as exc:
        db.rollback()
        flash_errors(exc.errors)
        return False
    if done:
        flash(done, "info")
    return True


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class IsoDateField(DateField):
    """A day typed as ``YYYY-MM-DD`` in a text box, so that it reads the same whatever the
    browser's locale; an impossible day (``2024-13-45``) is called impossible."""

    widget = TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        render_kw = {"placeholder": "YYYY-MM-DD", "inputmode": "numeric", "autocomplete": "off",
                     **(kwargs.pop("render_kw", None) or {})}
        super().__init__(label, validators, format="%Y-%m-%d", render_kw=render_kw, **kwargs)

    def process_formdata(self, valuelist):
        text = (valuelist[0] if valuelist else "").strip()
        self.data = None
        if not text:
            return
        if not _ISO_DAY.fullmatch(text):
            raise ValueError(f"“{text[:40]}” is not a date; write it as YYYY-MM-DD, e.g. 2024-05-17.")
        try:
            self.data = date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text} is not a possible date (no such month or day).") from None


class WholeNumberField(IntegerField):
    """A whole number whose refusal says what was typed and what is wanted."""

    def __init__(self, label=None, validators=None, minimum: int = 1, maximum: int | None = None, **kwargs):
        self.minimum, self.maximum = minimum, maximum
        super().__init__(label, validators, **kwargs)

    def _range(self) -> str:
        return f"from {self.minimum} to {self.maximum}" if self.maximum is not None else f"of {self.minimum} or more"

    def process_formdata(self, valuelist):
        if not valuelist:  # not in the form at all: the default stays
            return
        text = valuelist[0].strip()
        self.data = None
        if not text:
            return
        if not re.fullmatch(r"-?[0-9]{1,12}", text):
            raise ValueError(f"“{text[:40]}” is not a whole number; give a number {self._range()}.")
        self.data = int(text)

    def post_validate(self, form, validation_stopped):
        if self.data is not None and not self.errors and (
                self.data < self.minimum or (self.maximum is not None and self.data > self.maximum)):
            self.errors.append(f"{self.data} is out of range; give a number {self._range()}.")
