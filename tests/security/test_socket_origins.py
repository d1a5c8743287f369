"""Websocket Origin checks: the inbox only from the site itself, the widget from any site unless
its connection lists allowed origins (`config.allowed_origins`)."""

import pytest
from channels.db import database_sync_to_async

from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.tests.factories import AIAgentFactory
from tests.sockets import inbox_socket, logged_in_cookie, widget_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def _inbox_connects(cookie: str, origin: str | None) -> bool:
    socket = inbox_socket(cookie, origin=origin or "")
    if origin is None:  # a client that sends no Origin at all
        socket.scope["headers"] = [(name, value) for name, value in socket.scope["headers"] if name != b"origin"]
    connected, _ = await socket.connect()
    if connected:
        await socket.disconnect()
    return connected


@pytest.mark.parametrize("origin", ["http://localhost", "http://localhost:8000", "https://127.0.0.1"])
async def test_the_inbox_socket_opens_from_the_sites_own_origin(ana, organization, origin):
    cookie = await database_sync_to_async(logged_in_cookie)(ana, organization)
    assert await _inbox_connects(cookie, origin)


@pytest.mark.parametrize("origin", [
    "https://evil.example",
    "http://localhost.evil.example",  # a look-alike host
    "http://evil-localhost",
    "null",  # a sandboxed iframe or a file:// page
    "",
    None,
])
async def test_the_inbox_socket_refuses_any_other_origin_even_with_a_valid_session(ana, organization, origin):
    # Cross-site websocket hijacking: the browser would send the teammate's cookie from any page.
    cookie = await database_sync_to_async(logged_in_cookie)(ana, organization)
    assert not await _inbox_connects(cookie, origin)


@pytest.fixture
def open_widget(organization):
    return ChannelConnectionFactory(agent=AIAgentFactory(organization=organization), config={})


@pytest.fixture
def listed_widget(organization):
    return ChannelConnectionFactory(
        agent=AIAgentFactory(organization=organization),
        config={"allowed_origins": ["https://shop.example", "https://www.shop.example/"]},
    )


async def _widget_connects(key: str, origin: str | None) -> tuple[bool, int | None]:
    socket = widget_socket(key, origin=origin or "")
    if origin is None:
        socket.scope["headers"] = [(name, value) for name, value in socket.scope["headers"] if name != b"origin"]
    connected, code = await socket.connect()
    if connected:
        hello = await socket.receive_json_from()
        assert hello["type"] == "hello"
        await socket.disconnect()
    return connected, code


@pytest.mark.parametrize("origin", ["https://shop.example", "https://any-customer.example", "http://localhost:3000",
                                    None])
async def test_a_widget_without_allowed_origins_opens_from_any_site(open_widget, origin):
    assert (await _widget_connects(open_widget.key, origin))[0]


@pytest.mark.parametrize("origin", ["https://shop.example", "https://www.shop.example", "https://WWW.Shop.example"])
async def test_a_widget_with_allowed_origins_opens_from_those_sites(listed_widget, origin):
    assert (await _widget_connects(listed_widget.key, origin))[0]


@pytest.mark.parametrize("origin", ["https://evil.example", "http://shop.example", "https://shop.example.evil.example",
                                    "https://shop.example:8443", "null", None])
async def test_a_widget_with_allowed_origins_refuses_other_sites(listed_widget, origin):
    assert await _widget_connects(listed_widget.key, origin) == (False, 4403)
