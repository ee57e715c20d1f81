"""People who use the web pages: accounts with a role, and what a session knows of them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

__all__ = ["Role", "UserInfo", "LANGUAGES"]

LANGUAGES = ("vi", "en")


class Role(StrEnum):
    operator = "operator"  # scanning station: uploads batches
    reviewer = "reviewer"  # back office: verifies and corrects records
    counter = "counter"  # front desk: looks citizens up and reuses their settled records
    admin = "admin"  # everything, and manages users


class UserInfo(BaseModel):
    name: str
    role: Role
    lang: str = "vi"
    station: str | None = None
    disabled: bool = False
    created_at: datetime | None = None

    def has_role(self, *roles: Role) -> bool:
        """Admins may do everything; others only what their role allows."""
        return self.role == Role.admin or self.role in roles
