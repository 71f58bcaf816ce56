"""What Engines and WorkerPools share: compute resources, references, object identity, and parse errors.

Both kinds run the same runtime image as a Deployment, so their specs share the `resources` block and their
handlers need the same identity facts (namespace, uid for owner references, generation, creation time).
Parsing problems are reported once, named by field path, before anything is built or written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import pydantic

GROUP = "neuroedge.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
_DNS_LABEL = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
# The CRDs' quantity pattern: checked here too so that a body that bypassed the schema (a test, an old CRD)
# cannot put garbage into a Deployment.
_QUANTITY = re.compile(
    r"^(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)


M = TypeVar("M", bound=pydantic.BaseModel)


class InvalidResourceError(ValueError):
    """An Engine or WorkerPool the reconciler refuses to act on; the message is shown to the user as is."""


class Model(pydantic.BaseModel):
    """Frozen, populated by field name or camelCase alias, tolerant of fields a newer CRD adds."""

    model_config = pydantic.ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


def _quantity(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. 500m, 2, 4Gi)")
    text = str(value)
    if not _QUANTITY.match(text):
        raise ValueError(f"{text!r} is not a Kubernetes quantity (e.g. 500m, 2, 4Gi)")
    return text


Quantity = Annotated[str | None, pydantic.BeforeValidator(_quantity)]


class ResourceList(Model):
    """CPU and memory of requests or limits."""

    cpu: Quantity = None
    memory: Quantity = None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("cpu", self.cpu), ("memory", self.memory)) if v is not None}


class Resources(Model):
    """`resources` of the runtime container."""

    requests: ResourceList = pydantic.Field(default_factory=ResourceList)
    limits: ResourceList = pydantic.Field(default_factory=ResourceList)

    @property
    def empty(self) -> bool:
        return not self.requests.as_dict() and not self.limits.as_dict()

    def as_dict(self) -> dict[str, dict[str, str]]:
        """The container's `resources` field (sections without values left out)."""
        sections = (("requests", self.requests.as_dict()), ("limits", self.limits.as_dict()))
        return {name: values for name, values in sections if values}


class Reference(Model):
    """A reference by name to an object in the same namespace."""

    name: str = pydantic.Field(min_length=1, max_length=253)


@dataclass(frozen=True)
class Identity:
    """Who an object is: what owner references, labels, job ids and the schedules' start need."""

    kind: str
    name: str
    namespace: str
    uid: str
    generation: int
    created: datetime

    @property
    def owner_reference(self) -> dict[str, Any]:
        """Makes the object's deletion garbage-collect the child, and marks us as the child's controller."""
        return {
            "apiVersion": API_VERSION,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


@dataclass(frozen=True)
class Parsed:
    """What every parsed Engine and WorkerPool has: its identity, and the name and namespace from it."""

    meta: Identity

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def namespace(self) -> str:
        return self.meta.namespace


def readable_status(model: type[M], body: Mapping[str, Any]) -> M:
    """The status the operator last wrote, as `model`; a status we cannot read is not the user's error, so
    it is replaced by an empty one and rebuilt from the cluster on this pass."""
    try:
        return model.model_validate(body.get("status") or {})
    except (pydantic.ValidationError, InvalidResourceError):
        return model()


def identity(kind: str, body: Mapping[str, Any]) -> Identity:
    """Identity from the raw body's metadata; a name that cannot name Deployments or labels is refused."""
    meta = body.get("metadata") or {}
    name = str(meta.get("name", ""))
    if len(name) > 63 or not _DNS_LABEL.match(name):
        raise InvalidResourceError(f"{kind} name {name!r} must be a DNS label of at most 63 characters")
    namespace = str(meta.get("namespace") or "")
    if not namespace:
        raise InvalidResourceError(f"{kind} {name!r} has no namespace")
    return Identity(
        kind=kind,
        name=name,
        namespace=namespace,
        uid=str(meta.get("uid", "")),
        generation=int(meta.get("generation") or 0),
        created=parse_time(meta.get("creationTimestamp")) or datetime.fromtimestamp(0, UTC),
    )


def lenient_identity(kind: str, body: Mapping[str, Any]) -> Identity:
    """Identity as the object says it, never raising: what a finalizer needs to remove what the object
    created, even when its name, times or spec no longer pass `identity` and the models."""
    meta = body.get("metadata") or {}
    try:
        created = parse_time(meta.get("creationTimestamp"))
    except InvalidResourceError:
        created = None
    return Identity(
        kind=kind,
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace") or ""),
        uid=str(meta.get("uid", "")),
        generation=int(meta.get("generation") or 0),
        created=created or datetime.fromtimestamp(0, UTC),
    )


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 time from a body (`...Z`), as an aware UTC datetime; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidResourceError(f"{value!r} is not an RFC 3339 time") from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, to the second: how Kubernetes writes times."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def validate(model: type[M], raw: object, where: str) -> M:
    """`model` from `raw`, or InvalidResourceError listing every problem by field path under `where`."""
    try:
        return model.model_validate(raw or {})
    except pydantic.ValidationError as exc:
        raise InvalidResourceError("; ".join(_describe(where, e) for e in exc.errors())) from None


def _describe(where: str, error: Mapping[str, Any]) -> str:
    path = ".".join(str(part) for part in (where, *error.get("loc", ())))
    return f"{path}: {str(error.get('msg', 'invalid')).removeprefix('Value error, ')}"
