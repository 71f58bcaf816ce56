"""Redis key layout of a pool's queue (docs/architecture.md, "Redis key layout").

Every key of one pool shares the hash tag `{<tenant>.<pool>}`, so that the Lua scripts that touch the stream,
the job hashes and the dead-letter stream together stay inside one Redis Cluster slot. The prefix starts with
`ne:<tenant>:` so that the tenant's Redis ACL user (`~ne:<tenant>:*`) reaches its own queues and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GROUP = "pool"
"""The consumer group every worker of a pool reads with."""

_DNS_LABEL = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
_TENANT_MAX = 40
_POOL_MAX = 63
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
_LOCK_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
JOB_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
"""A job id: a ULID (26 Crockford base32 characters, time-ordered), see `jobs.new_job_id`."""


class InvalidName(ValueError):  # noqa: N818 - it is a ValueError, named for what was wrong
    """A tenant, pool, job id, idempotency key or lock name that cannot be part of a key."""


def check_tenant(tenant: str) -> str:
    """The tenant name, or a clear error: a DNS label of at most 40 characters."""
    if len(tenant) > _TENANT_MAX or not _DNS_LABEL.match(tenant):
        raise InvalidName(f"tenant {tenant!r} is not a DNS label of at most {_TENANT_MAX} characters")
    return tenant


def check_pool(pool: str) -> str:
    """The pool (WorkerPool name), or a clear error: a DNS label of at most 63 characters."""
    if len(pool) > _POOL_MAX or not _DNS_LABEL.match(pool):
        raise InvalidName(f"pool {pool!r} is not a DNS label of at most {_POOL_MAX} characters")
    return pool


def check_job_id(job_id: str) -> str:
    """A job id as `jobs.new_job_id` makes them."""
    if not JOB_ID.match(job_id):
        raise InvalidName(f"job id {job_id!r} is not a 26-character ULID")
    return job_id


def check_idempotency_key(key: str) -> str:
    """1 to 200 printable ASCII characters without spaces."""
    if not _IDEMPOTENCY_KEY.match(key):
        raise InvalidName("idempotency key must be 1 to 200 printable ASCII characters without spaces")
    return key


@dataclass(frozen=True)
class QueueKeys:
    """The keys of the queue of pool `pool` of tenant `tenant`."""

    tenant: str
    pool: str

    def __post_init__(self) -> None:
        check_tenant(self.tenant)
        check_pool(self.pool)

    @property
    def prefix(self) -> str:
        """`ne:<tenant>:{<tenant>.<pool>}:`"""
        return f"ne:{self.tenant}:{{{self.tenant}.{self.pool}}}:"

    @property
    def stream(self) -> str:
        """The stream jobs are added to and the group `pool` reads."""
        return self.prefix + "stream"

    @property
    def dlq(self) -> str:
        """The dead-letter stream: jobs that used up their deliveries, with their last error."""
        return self.prefix + "dlq"

    @property
    def delayed(self) -> str:
        """Sorted set of jobs waiting for a retry (score: due time in epoch milliseconds)."""
        return self.prefix + "delayed"

    def job(self, job_id: str) -> str:
        """Hash with the job's status, attempts, result or error (expires after the result TTL)."""
        return self.prefix + "job:" + check_job_id(job_id)

    def idem(self, key: str) -> str:
        """String holding the id of the job enqueued with idempotency key `key`."""
        return self.prefix + "idem:" + check_idempotency_key(key)

    def lock(self, name: str) -> str:
        """A lock that only one worker of the pool may hold (see `lock.py`)."""
        if not _LOCK_NAME.match(name):
            raise InvalidName(f"lock name {name!r} must match {_LOCK_NAME.pattern}")
        return self.prefix + "lock:" + name
