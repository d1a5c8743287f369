"""PostgreSQL from the web process's event loop, for the one statement a webhook into an
ongoing conversation needs (channels_gateway/loop_webhooks.py).

Django's connections belong to threads and block them; this is a small psycopg pool of
asyncio connections per event loop, on the settings of Django's default database (its
prepared statements included, `DB_PREPARED_STATEMENTS`), in autocommit. A caller that
cannot have a connection at once, or whose statement fails, leaves the request to Django.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from django.conf import settings
from django.db import connections
from psycopg_pool import AsyncConnectionPool

# How long a webhook waits for a free connection before Django takes it instead. Not short:
# under load a connection is free again only when the busy event loop next resumes its holder,
# and with 0.25 s the webhooks that waited longer went to Django's view, which costs the
# process more per webhook, so the loop fell further behind (bench/perf, figure 1 at 500
# messages/s: most webhooks went through the view and the run collapsed). When the database
# is gone, a broken connection fails at once and the pool's reconnection is waited for only
# this long; Django's view then answers 503.
WAIT_FOR_A_CONNECTION_SECONDS = 2.0

_pools: dict[asyncio.AbstractEventLoop, AsyncConnectionPool] = {}


@asynccontextmanager
async def connection() -> AsyncIterator[psycopg.AsyncConnection]:
    """Raises psycopg_pool.PoolTimeout when none is free in time, psycopg.Error as psycopg does."""
    pool = await _pool()
    async with pool.connection(timeout=WAIT_FOR_A_CONNECTION_SECONDS) as held:
        yield held


async def close() -> None:
    """Close the running loop's pool (a test's loop ends; a process exiting needs nothing)."""
    pool = _pools.pop(asyncio.get_running_loop(), None)
    if pool is not None:
        await pool.close()


async def _pool() -> AsyncConnectionPool:
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        pool = _pools[loop] = AsyncConnectionPool(
            kwargs=_connection_parameters(), min_size=1, max_size=settings.LOOP_DATABASE_CONNECTIONS,
            open=False, name="event-loop", max_lifetime=3600,
        )
    if pool.closed:
        await pool.open()  # an uncontended lock: no other caller runs before it is open
    return pool


def _connection_parameters() -> dict:
    parameters = connections["default"].get_connection_params()
    # Django's cursor binds parameters on the client; psycopg's own asyncio cursor binds them on
    # the server, which is what lets PostgreSQL prepare the statement.
    parameters.pop("cursor_factory", None)
    return {**parameters, "autocommit": True}
