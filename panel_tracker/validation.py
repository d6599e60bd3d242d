"""A service's refusal of bad input, field by field: the one refusal type. Pages render it
next to the fields, the API answers ``status`` (422 unless said otherwise) with
``{"errors": {field: message}}``, the CLI exits 1 with the message."""
from __future__ import annotations

import re


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


# C0 control characters other than tab, line feed and carriage return, and unpaired UTF-16
# surrogates (JSON can spell them, "\ud800"): PostgreSQL cannot store NUL, no database
# driver can encode a lone surrogate, and none of them belongs in a marking as read.
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def unstorable_character(text: str) -> str | None:
    """Why ``text`` cannot be kept exactly as sent, or None. Such text is refused, never
    cleaned: evidence is stored as read, so nothing may change it silently."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    code = ord(found.group())
    what = "an unpaired surrogate" if code >= 0xD800 else "the control character"
    return f"contains {what} U+{code:04X}, which cannot be stored; remove it and send again."
