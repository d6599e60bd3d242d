"""Saved searches: a query and its filters, kept by a user in a panel; with ``notify`` the
dashboard tells the user of new items that match it."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ..db import created_at_field


class SavedSearch(SQLModel, table=True):
    __tablename__ = "saved_search"

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    name: str = Field(sa_type=sa.String(120))
    query: str = Field(default="", sa_type=sa.String(500))
    filters: dict = Field(default_factory=dict, sa_type=sa.JSON)
    notify: bool = Field(default=False)
    # New items are those created after this moment (reset each time the user opens it).
    seen_at: datetime = created_at_field()
    created_at: datetime = created_at_field()
