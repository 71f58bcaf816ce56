"""Key layout: the documented names, one hash tag per pool, and clear errors for names that cannot be keys."""

from __future__ import annotations

import re

import pytest

from neuroedge_queue import keys


def test_layout_matches_the_architecture_page() -> None:
    k = keys.QueueKeys("acme", "gpu-small")
    assert k.prefix == "ne:acme:{acme.gpu-small}:"
    assert k.stream == "ne:acme:{acme.gpu-small}:stream"
    assert k.dlq == "ne:acme:{acme.gpu-small}:dlq"
    assert k.delayed == "ne:acme:{acme.gpu-small}:delayed"
    assert k.job("01ARZ3NDEKTSV4RRFFQ69G5FAV") == "ne:acme:{acme.gpu-small}:job:01ARZ3NDEKTSV4RRFFQ69G5FAV"
    assert k.idem("order-1") == "ne:acme:{acme.gpu-small}:idem:order-1"
    assert k.lock("reclaim") == "ne:acme:{acme.gpu-small}:lock:reclaim"
    assert keys.GROUP == "pool"


def _hash_tag(key: str) -> str:
    match = re.search(r"\{([^}]*)\}", key)
    assert match is not None
    return match.group(1)


def test_every_key_of_a_pool_shares_one_hash_tag_and_the_tenant_prefix() -> None:
    k = keys.QueueKeys("t1", "p")
    all_keys = [k.stream, k.dlq, k.delayed, k.job("01ARZ3NDEKTSV4RRFFQ69G5FAV"), k.idem("{x}"), k.lock("a")]
    assert {_hash_tag(key) for key in all_keys} == {"t1.p"}
    assert all(key.startswith("ne:t1:") for key in all_keys)  # the tenant's ACL pattern ne:t1:*


def test_pools_of_different_tenants_never_share_keys() -> None:
    assert keys.QueueKeys("a", "b-c").stream != keys.QueueKeys("a-b", "c").stream


@pytest.mark.parametrize("tenant", ["", "A", "1abc", "a_b", "a-", "x" * 41, "a:b", "a{b}"])
def test_bad_tenant_names_are_refused(tenant: str) -> None:
    with pytest.raises(keys.InvalidName, match="tenant"):
        keys.QueueKeys(tenant, "pool")


@pytest.mark.parametrize("pool", ["", "Pool", "p.q", "p}", "x" * 64])
def test_bad_pool_names_are_refused(pool: str) -> None:
    with pytest.raises(keys.InvalidName, match="pool"):
        keys.QueueKeys("acme", pool)


@pytest.mark.parametrize(
    "job_id", ["", "abc", "01ARZ3NDEKTSV4RRFFQ69G5FA", "01ARZ3NDEKTSV4RRFFQ69G5FAU", "x" * 26]
)
def test_bad_job_ids_are_refused(job_id: str) -> None:
    with pytest.raises(keys.InvalidName, match="job id"):
        keys.QueueKeys("acme", "p").job(job_id)


@pytest.mark.parametrize("key", ["", "a b", "é", "x" * 201, "tab\t"])
def test_bad_idempotency_keys_are_refused(key: str) -> None:
    with pytest.raises(keys.InvalidName, match="idempotency key"):
        keys.QueueKeys("acme", "p").idem(key)


def test_bad_lock_names_are_refused() -> None:
    with pytest.raises(keys.InvalidName, match="lock name"):
        keys.QueueKeys("acme", "p").lock("Reclaim:all")
