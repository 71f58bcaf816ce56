"""The tenant-name rule, checked before a name is used as a path, a key prefix or a lookup."""

from __future__ import annotations

import re

TENANT_PATTERN = r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$"
_TENANT = re.compile(TENANT_PATTERN)


def is_tenant_name(value: object) -> bool:
    """True when `value` is a syntactically valid tenant name (a DNS label of at most 40 characters)."""
    return isinstance(value, str) and _TENANT.fullmatch(value) is not None
