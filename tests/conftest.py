import pytest

from tests.cluster import real_task_queue  # noqa: F401
from tests.faults.private_redis import PrivateRedis


@pytest.fixture
def private_redis():
    """A redis-server of the test's own, to stop and start (tests/faults/private_redis.py)."""
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.close()
