"""Roles and what each allows: every route declares the least role it needs."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    """A user's role within its tenant, from most to least privileged."""

    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2}


def allows(have: Role, need: Role) -> bool:
    """True when a user with role `have` may call a route that needs `need`."""
    return _RANK[have] >= _RANK[need]
