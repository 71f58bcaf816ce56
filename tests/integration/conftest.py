"""Fixtures shared by the integration tests of more than one component."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest


@pytest.fixture
async def admin_db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to the test database."""
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()
