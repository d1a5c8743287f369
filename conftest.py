import pytest
from django.core.cache import cache

from tests.fakes.anthropic_api import FakeAnthropic


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
    yield
