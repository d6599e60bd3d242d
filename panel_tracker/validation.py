"""A service's refusal of bad input, field by field: the one refusal type. Pages render it
next to the fields, the API answers ``status`` (422 unless said otherwise) with
``{"errors": {field: message}}``, the CLI exits 1 with the message."""
from __future__ import annotations


class Invalid(ValueError):
    """``errors`` maps a field name ("" for the whole object) to the message a person can act on.

    ``status`` is the HTTP answer the API gives: 422 for input that breaks a rule, 400 for
    a request it cannot read at all (not JSON, no file).
    """

    def __init__(self, errors: dict[str, str] | str, *, status: int = 422):
        self.errors = {"": errors} if isinstance(errors, str) else dict(errors)
        self.status = status
        super().__init__("; ".join(f"{k}: {v}" if k else v for k, v in self.errors.items()))


def too_long(length: int, limit: int) -> str:
    """The one message for a text over its field's limit, in forms, the API and imports."""
    return f"{length:,} characters long; at most {limit:,} characters"
