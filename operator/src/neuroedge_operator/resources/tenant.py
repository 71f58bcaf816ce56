"""The Tenant resource as typed models, parsed from the raw body kopf hands us.

Everything that can be wrong with a spec is found here, before the reconciler writes anything: a bad
spec becomes one clear message on the Tenant's conditions, never a half-provisioned tenant.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pydantic

from neuroedge_operator.resources import duration, quantity

GROUP = "neuroedge.io"
VERSION = "v1alpha1"
PLURAL = "tenants"
KIND = "Tenant"
TENANT_LABEL = "neuroedge.io/tenant"
ROTATE_ANNOTATION = "neuroedge.io/rotate-keys"
_TENANT_NAME = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


def _quantity(value: str | int | float | None) -> str | None:
    if value is None:
        return None
    text = str(value)
    if quantity.parse(text) < 0:
        raise ValueError(f"{text!r} must not be negative")
    return text


QuantityText = Annotated[str | None, pydantic.BeforeValidator(_quantity)]
Seconds = Annotated[float, pydantic.BeforeValidator(duration.parse_seconds)]


class Quota(_Model):
    """Hard limits applied as a ResourceQuota in every namespace of the tenant."""

    cpu: QuantityText = None
    memory: QuantityText = None
    pods: int | None = pydantic.Field(default=None, ge=0)


class Resources(_Model):
    """CPU and memory of a LimitRange default."""

    cpu: QuantityText = None
    memory: QuantityText = None


class LimitRange(_Model):
    """Container defaults, so that pods without resources still fit under the quota."""

    default_request: Resources = pydantic.Field(default_factory=Resources, alias="defaultRequest")
    default: Resources = pydantic.Field(default_factory=Resources)


class Database(_Model):
    """What happens to the tenant's role and rows when the Tenant is deleted."""

    reclaim_policy: Literal["Retain", "Delete"] = pydantic.Field(default="Retain", alias="reclaimPolicy")


class Auth(_Model):
    """Token lifetimes and the signing-key rotation period, in seconds once parsed."""

    access_token_ttl: Seconds = pydantic.Field(default=900.0, alias="accessTokenTTL")
    refresh_token_ttl: Seconds = pydantic.Field(default=1209600.0, alias="refreshTokenTTL")
    key_rotation_period: Seconds = pydantic.Field(default=30 * 86400.0, alias="keyRotationPeriod")


class RateLimit(_Model):
    """Per-tenant request rate enforced by the runtime."""

    requests_per_second: float = pydantic.Field(default=50.0, gt=0, alias="requestsPerSecond")
    burst: int = pydantic.Field(default=100, gt=0)


class LLMBudget(_Model):
    """Tokens the tenant may use through the LLM gateway per UTC minute and day; None is unlimited."""

    tokens_per_minute: int | None = pydantic.Field(default=None, gt=0, alias="tokensPerMinute")
    tokens_per_day: int | None = pydantic.Field(default=None, gt=0, alias="tokensPerDay")

    @pydantic.model_validator(mode="after")
    def _ordered(self) -> LLMBudget:
        minute, day = self.tokens_per_minute, self.tokens_per_day
        if minute is not None and day is not None and minute > day:
            raise ValueError("llmBudget.tokensPerMinute cannot exceed tokensPerDay")
        return self


class TenantSpec(_Model):
    """`spec` of a Tenant."""

    namespaces: tuple[str, ...] = ()
    quota: Quota = pydantic.Field(default_factory=Quota)
    limit_range: LimitRange = pydantic.Field(default_factory=LimitRange, alias="limitRange")
    network_isolation: bool = pydantic.Field(default=True, alias="networkIsolation")
    database: Database = pydantic.Field(default_factory=Database)
    auth: Auth = pydantic.Field(default_factory=Auth)
    rate_limit: RateLimit = pydantic.Field(default_factory=RateLimit, alias="rateLimit")
    llm_budget: LLMBudget = pydantic.Field(default_factory=LLMBudget, alias="llmBudget")
    suspend: bool = False

    @pydantic.field_validator("namespaces", mode="before")
    @classmethod
    def _names(cls, value: Any) -> tuple[str, ...]:
        items = [item["name"] if isinstance(item, Mapping) else item for item in (value or [])]
        for item in items:
            if not isinstance(item, str) or len(item) > 63 or not _DNS_LABEL.match(item):
                raise ValueError(f"{item!r} is not a valid namespace name (a DNS label)")
        if len(set(items)) != len(items):
            raise ValueError("namespaces must be unique")
        return tuple(items)


@dataclass(frozen=True)
class Tenant:
    """A parsed Tenant: identity for owner references, the spec, and what the reconciler needs to know."""

    name: str
    uid: str
    generation: int
    spec: TenantSpec
    annotations: Mapping[str, str]

    @property
    def namespaces(self) -> tuple[str, ...]:
        """The tenant's namespaces; a tenant without any listed gets one named after itself."""
        return self.spec.namespaces or (self.name,)

    @property
    def owner_reference(self) -> dict[str, Any]:
        """Owner reference that makes the Tenant's deletion garbage-collect a child."""
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": KIND,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


class InvalidTenantError(ValueError):
    """A Tenant the reconciler refuses to act on; the message is shown to the user as is."""


def parse(body: Mapping[str, Any]) -> Tenant:
    """A Tenant from its raw body; raises InvalidTenantError with every problem, named by field path."""
    meta = body.get("metadata", {})
    name = str(meta.get("name", ""))
    if len(name) > 40 or not _TENANT_NAME.match(name):
        raise InvalidTenantError(f"tenant name {name!r} must be a DNS label of at most 40 characters")
    try:
        spec = TenantSpec.model_validate(body.get("spec") or {})
    except pydantic.ValidationError as exc:
        raise InvalidTenantError("; ".join(_describe(error) for error in exc.errors())) from None
    problems = consistency_problems(spec)
    if problems:
        raise InvalidTenantError("; ".join(problems))
    return Tenant(
        name=name,
        uid=str(meta.get("uid", "")),
        generation=int(meta.get("generation") or 0),
        spec=spec,
        annotations=dict(meta.get("annotations") or {}),
    )


@dataclass(frozen=True)
class Departing:
    """What the finalizer needs of a Tenant being deleted, read even from a spec that no longer validates
    (the CRD changed, a field was edited into nonsense): the tenant must still be removable."""

    name: str
    uid: str
    reclaim_policy: Literal["Retain", "Delete"]


def parse_lenient(body: Mapping[str, Any]) -> Departing:
    """The Tenant's identity and reclaim policy, never raising: the policy is Delete only when the spec says
    so validly; anything unreadable keeps the data (Retain), since dropping it cannot be undone."""
    meta = body.get("metadata") or {}
    raw = body.get("spec")
    try:
        database = Database.model_validate((raw if isinstance(raw, Mapping) else {}).get("database") or {})
    except pydantic.ValidationError:
        database = Database()
    return Departing(str(meta.get("name", "")), str(meta.get("uid", "")), database.reclaim_policy)


def _describe(error: Mapping[str, Any]) -> str:
    path = ".".join(str(part) for part in ("spec", *error.get("loc", ())))
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{path}: {message}"


def consistency_problems(spec: TenantSpec) -> list[str]:
    """Cross-field checks a schema cannot express: limits that make the quota impossible to use."""
    problems: list[str] = []
    lr, quota = spec.limit_range, spec.quota
    for resource in ("cpu", "memory"):
        request, limit, hard = (
            getattr(lr.default_request, resource),
            getattr(lr.default, resource),
            getattr(quota, resource),
        )
        if request and limit and quantity.parse(request) > quantity.parse(limit):
            problems.append(
                f"spec.limitRange.defaultRequest.{resource} ({request}) exceeds "
                f"spec.limitRange.default.{resource} ({limit})"
            )
        for field, value in (("defaultRequest", request), ("default", limit)):
            if value and hard is not None and quantity.parse(value) > quantity.parse(hard):
                problems.append(
                    f"spec.limitRange.{field}.{resource} ({value}) exceeds spec.quota.{resource} ({hard}): "
                    "no pod with default resources could ever start"
                )
        if hard is not None and quantity.parse(hard) == 0:
            problems.append(f"spec.quota.{resource} is 0: no pod could ever start")
    return problems
