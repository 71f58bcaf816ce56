"""RetryPolicy: exponential bounds, full jitter within them, the cap, and the retrying helper."""

from __future__ import annotations

import random

import pytest

from neuroedge_queue import retry


def test_bounds_double_from_base_up_to_the_cap() -> None:
    policy = retry.RetryPolicy(base=0.5, cap=6.0, max_attempts=10)
    assert [policy.bound(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 6.0, 6.0]
    assert policy.bound(10_000) == 6.0  # no overflow for absurd attempt numbers


def test_full_jitter_spans_zero_to_the_bound() -> None:
    policy = retry.RetryPolicy(base=1.0, cap=100.0)
    assert policy.delay(3, 0.0) == 0.0
    assert policy.delay(3, 0.5) == 2.0
    assert policy.delay(3, 0.999) < policy.bound(3)
    draws = random.Random(7)
    delays = [policy.delay(4, draws.random()) for _ in range(2000)]
    assert min(delays) >= 0.0 and max(delays) < 8.0
    assert min(delays) < 0.5 and max(delays) > 7.5  # really spread over the whole range


def test_gives_up_after_max_attempts() -> None:
    policy = retry.RetryPolicy(max_attempts=3)
    assert [policy.gives_up_after(n) for n in (1, 2, 3, 4)] == [False, False, True, True]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"base": 0}, "base"), ({"base": 2, "cap": 1}, "cap"), ({"max_attempts": 0}, "max_attempts")],
)
def test_nonsense_policies_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        retry.RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_invalid_draws_and_attempts_are_refused() -> None:
    policy = retry.RetryPolicy()
    with pytest.raises(ValueError, match="draw"):
        policy.delay(1, 1.0)
    with pytest.raises(ValueError, match="attempt"):
        policy.bound(0)


async def test_call_retries_transient_errors_then_returns() -> None:
    calls, slept = [], []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("down")
        return "up"

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    policy = retry.RetryPolicy(base=1.0, cap=10.0, max_attempts=5)
    assert (
        await retry.call(flaky, policy, retry_on=(ConnectionError,), rng=random.Random(1), sleep=sleep)
        == "up"
    )
    assert len(calls) == 3
    assert len(slept) == 2 and 0 <= slept[0] < 1.0 and 0 <= slept[1] < 2.0


async def test_call_gives_up_with_the_last_error_and_never_retries_others() -> None:
    async def down() -> None:
        raise ConnectionError("still down")

    async def broken() -> None:
        raise KeyError("bug")

    async def sleep(_: float) -> None:
        return None

    policy = retry.RetryPolicy(max_attempts=2)
    with pytest.raises(ConnectionError, match="still down"):
        await retry.call(down, policy, retry_on=(ConnectionError,), sleep=sleep)
    with pytest.raises(KeyError):
        await retry.call(broken, policy, retry_on=(ConnectionError,), sleep=sleep)
