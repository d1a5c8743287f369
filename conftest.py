import inspect

import pytest
from asgiref.sync import SyncToAsync
from channels.layers import channel_layers
from django.db import connections
from django.core.cache import cache

from channels_gateway import remembered_connections
from conversations.tests.factories import AIAgentFactory
from orgs.roles import Role
from orgs.tests.factories import OrganizationFactory, member
from tests.fakes.anthropic_api import FakeAnthropic


@pytest.fixture
def organization(db):
    return OrganizationFactory()


@pytest.fixture
def agent(organization):
    return AIAgentFactory(organization=organization)


@pytest.fixture
def ana(organization):
    return member(organization, Role.AGENT, username="ana", first_name="Ana", last_name="Silva")


@pytest.fixture
def ben(organization):
    return member(organization, Role.AGENT, username="ben", first_name="Ben", last_name="Okafor")


@pytest.fixture
def fake_anthropic(settings):
    """The real anthropic SDK, pointed at a fake Messages API on 127.0.0.1."""
    with FakeAnthropic() as fake:
        settings.ANTHROPIC_API_KEY = "sk-ant-test-" + "x" * 16
        settings.ANTHROPIC_BASE_URL = fake.url
        settings.ANTHROPIC_MAX_RETRIES = 1
        yield fake


@pytest.fixture(autouse=True)
def _isolated_cache():
    cache.clear()
    remembered_connections.forget_all()
    yield


@pytest.fixture(autouse=True)
def _isolate_async_tests(request):
    """Each async test runs in its own event loop. A channel layer keeps asyncio locks from
    the loop that first used it, so each test gets fresh layer instances; and the ORM calls
    ran on asgiref's one sync thread, whose connection would otherwise outlive the test and
    keep the test database from being dropped."""
    is_async = inspect.iscoroutinefunction(request.function)
    if is_async:
        channel_layers.backends.clear()
    yield
    if is_async:
        channel_layers.backends.clear()
        SyncToAsync.single_thread_executor.submit(connections.close_all).result()
