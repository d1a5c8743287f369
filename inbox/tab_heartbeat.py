"""Open inbox tabs are marked as seen once per web process, not once per tab.

A tab's row stays fresh while its socket is open in a live web process: a browser that goes
away stops answering daphne's websocket keepalive (a ping after 20 s idle, closed 30 s
later), its socket closes and its row goes with it. What the rows must still reveal is a
process that died without saying goodbye, so each process refreshes the rows of all its
open tabs in one UPDATE every INBOX_TAB_HEARTBEAT_SECONDS, and the sweep drops the rows
of a dead one. (Each tab's own ping used to be a write: 80 a second with 2,000 tabs open,
on the one thread that also serves every socket's database calls.)
"""

import asyncio
import logging

from channels.db import database_sync_to_async
from django.conf import settings

from inbox.services import tabs_seen

logger = logging.getLogger(__name__)


class _OpenTabs:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.channel_names: set[str] = set()
        self.beating = loop.create_task(_beat(self))


# One per event loop: daphne has one; a test suite opens sockets on many.
_open_tabs: dict[asyncio.AbstractEventLoop, _OpenTabs] = {}


def tab_opened(channel_name: str) -> None:
    loop = asyncio.get_running_loop()
    if loop not in _open_tabs:
        _open_tabs[loop] = _OpenTabs(loop)
    _open_tabs[loop].channel_names.add(channel_name)


def tab_closed(channel_name: str) -> None:
    loop = asyncio.get_running_loop()
    tabs = _open_tabs.get(loop)
    if tabs is None:
        return
    tabs.channel_names.discard(channel_name)
    if not tabs.channel_names:
        tabs.beating.cancel()
        del _open_tabs[loop]


async def _beat(tabs: _OpenTabs) -> None:
    while True:
        await asyncio.sleep(settings.INBOX_TAB_HEARTBEAT_SECONDS)
        try:
            await database_sync_to_async(tabs_seen)(channel_names=list(tabs.channel_names))
        except Exception:
            # The rows stay fresh for 90 s: the next beats have time to get through.
            logger.warning("Could not mark %d open inbox tabs as seen", len(tabs.channel_names), exc_info=True)
