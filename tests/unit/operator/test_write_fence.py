"""The write fence: writes pass only while the leadership is valid on the monotonic clock."""

from __future__ import annotations

import time

import pytest

from neuroedge_operator.clients import fence


def test_a_fresh_fence_is_open_for_processes_without_election() -> None:
    fence.Fence().check("apply")


def test_a_fence_open_until_a_past_deadline_refuses() -> None:
    f = fence.Fence()
    f.open_until(time.monotonic() - 0.001)
    with pytest.raises(fence.NotLeaderError, match="refused SQL grant"):
        f.check("SQL grant")


def test_a_fence_open_until_a_future_deadline_allows_then_close_refuses() -> None:
    f = fence.Fence()
    f.open_until(time.monotonic() + 60)
    f.check("apply")
    f.close()
    assert not f.is_open()
