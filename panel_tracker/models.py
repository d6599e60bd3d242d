"""Import every table model, so SQLModel.metadata is complete (Alembic, tests)."""
from __future__ import annotations

import importlib

MODEL_MODULES = (
    "panel_tracker.auth.models",
    "panel_tracker.audit.models",
    "panel_tracker.cases.models",
    "panel_tracker.evidence.models",
)


def import_all() -> None:
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
