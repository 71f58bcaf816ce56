"""Pure Redis ACL rules for a tenant's user: keys and channels confined to `ne:<t>:`, dangerous commands off.

Besides `@dangerous` and `@admin`, commands that leak other tenants' key or channel names or affect the
whole server are denied: key patterns do not filter SCAN/RANDOMKEY results, PUBSUB CHANNELS lists every
channel, FUNCTION/SCRIPT FLUSH act on every tenant's scripts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

USER_PREFIX = "ne-tenant-"
DENIED_CATEGORIES = ("@admin", "@dangerous")
DENIED_COMMANDS = (
    "dbsize",
    "fcall",
    "fcall_ro",
    "function",
    "memory",
    "pubsub",
    "randomkey",
    "scan",
    "script|flush",
    "script|kill",
    "select",
    "swapdb",
)


def user_name(tenant: str) -> str:
    """The tenant's ACL user (docs/architecture.md)."""
    return USER_PREFIX + tenant


def key_pattern(tenant: str) -> str:
    return f"~ne:{tenant}:*"


def channel_pattern(tenant: str) -> str:
    return f"&ne:{tenant}:*"


def password_hash(password: str) -> str:
    """The SHA-256 form Redis stores and accepts with `#`, so the clear password is never sent in a rule."""
    return hashlib.sha256(password.encode()).hexdigest()


def command_rules() -> list[str]:
    return ["+@all", *(f"-{c}" for c in DENIED_CATEGORIES), *(f"-{c}" for c in DENIED_COMMANDS)]


def setuser_rules(tenant: str, password: str, enabled: bool) -> list[str]:
    """Arguments after `ACL SETUSER <user>`: a full reset, so the result never depends on what was there."""
    return [
        "reset",
        "on" if enabled else "off",
        f"#{password_hash(password)}",
        key_pattern(tenant),
        channel_pattern(tenant),
        *command_rules(),
    ]


def probes(tenant: str) -> list[tuple[tuple[str, ...], bool]]:
    """Commands to check with `ACL DRYRUN` and whether each must be allowed.

    Redis rewrites command rules into its own canonical form, so comparing rule text would either miss
    drift or rewrite users forever; asking Redis what the user may do is exact and writes nothing.
    """
    own = f"ne:{tenant}:probe"
    allowed = [("get", own), ("set", own, "1"), ("xadd", own, "*", "f", "v"), ("eval", "return 1", "0")]
    denied = [
        ("get", "ne:other-tenant:probe"),
        ("publish", "ne:other-tenant:c", "x"),
        ("flushall",),
        ("flushdb",),
        ("keys", "*"),
        ("config", "get", "*"),
        ("acl", "list"),
        ("debug", "sleep", "0"),
        ("shutdown",),
        ("monitor",),
        ("client", "kill", "id", "1"),
        ("info",),
        *((c.split("|")) if "|" in c else (c,) for c in DENIED_COMMANDS),
    ]
    return [(tuple(cmd), True) for cmd in allowed] + [(tuple(cmd), False) for cmd in denied]


@dataclass(frozen=True)
class UserState:
    """What `ACL GETUSER` says about a user, reduced to what we manage; `permissions_ok` is whether every
    `probes()` answer was as expected."""

    enabled: bool
    passwords: tuple[str, ...]
    keys: str
    channels: str
    permissions_ok: bool


def up_to_date(observed: UserState | None, tenant: str, password: str, enabled: bool) -> bool:
    """Whether the live user already equals the rules we would set (then nothing is written)."""
    if observed is None:
        return False
    return (
        observed.enabled == enabled
        and observed.passwords == (password_hash(password),)
        and observed.keys == key_pattern(tenant)
        and observed.channels == channel_pattern(tenant)
        and observed.permissions_ok
    )
