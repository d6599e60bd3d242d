"""A service's refusal of bad input, field by field, shared by forms, the API and the CLI."""
from __future__ import annotations


class Invalid(ValueError):
    """``errors`` maps a field name ("" for the whole object) to the message a person can act on."""

    def __init__(self, errors: dict[str, str] | str):
        self.errors = {"": errors} if isinstance(errors, str) else dict(errors)
        super().__init__("; ".join(f"{k}: {v}" if k else v for k, v in self.errors.items()))
