"""Presence is announced when it changes, not on every tab: a teammate with many tabs open
(or reloading one) does not flood every other inbox of the org. Real sockets, Redis, PostgreSQL."""

import pytest
from channels.db import database_sync_to_async

from inbox.tests.test_team_inbox import presence_of
from tests.sockets import inbox_socket, logged_in_cookie, open_inbox, receive_until

pytestmark = pytest.mark.django_db(transaction=True)


async def open_another_tab(user, org):
    socket = inbox_socket(await database_sync_to_async(logged_in_cookie)(user, org))
    connected, _ = await socket.connect()
    assert connected
    snapshot = await socket.receive_json_from()
    assert snapshot["me"]["presence"] == "online"
    return socket


async def test_a_second_tab_tells_nobody_and_the_last_one_closing_makes_the_teammate_offline(org, ana, ben):
    ben_inbox, _ = await open_inbox(ben, org)
    ana_first, _ = await open_inbox(ana, org)
    assert (await receive_until(ben_inbox, presence_of(ana.pk)))["teammate"]["presence"] == "online"

    ana_second = await open_another_tab(ana, org)
    await ana_second.disconnect()
    # Ana was online all along: Ben's inbox heard nothing about her.
    assert await ben_inbox.receive_nothing(timeout=0.5)

    # One tab idle while another is active: still online, nothing to tell.
    ana_third = await open_another_tab(ana, org)
    await ana_third.send_json_to({"type": "presence", "state": "idle"})
    assert await ben_inbox.receive_nothing(timeout=0.5)
    await ana_first.disconnect()
    # Now her only tab is idle: away.
    assert (await receive_until(ben_inbox, presence_of(ana.pk)))["teammate"]["presence"] == "away"

    await ana_third.disconnect()
    assert (await receive_until(ben_inbox, presence_of(ana.pk)))["teammate"]["presence"] == "offline"
    await ben_inbox.disconnect()
