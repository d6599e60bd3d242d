"""Small helpers shared by the forms."""
from __future__ import annotations

from wtforms.fields.choices import SelectChoice


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
