"""The connections webhooks arrive for, remembered by each web process between webhooks.

Looking a connection up (with its agent and organization, its credentials decrypted) was a
query and a tenth of the web process's time per webhook. A remembered connection is used
only with what keeps it honest:

- storing a message checks, in the same statement, that the connection row is still the one
  read (PostgreSQL's `xmin`, which every write changes) and still active
  (`conversations.services.inbound_store`); if not, the webhook reads it again and retries;
- a request its remembered credentials refuse is tried once more with a fresh read, so new
  credentials work at once;
- an entry is forgotten after MAX_AGE_SECONDS, which bounds how long anything else (a
  deactivated connection acknowledging a delivery that carries no message, an agent's new
  name in a Google Chat greeting) can lag behind.

Only rows that carry a `row_version` (PostgreSQL) and whose credentials could be decrypted
are remembered.
"""

import threading
import time
from collections import OrderedDict

from channels_gateway.models import ChannelConnection

MAX_AGE_SECONDS = 30.0
MAX_ENTRIES = 2048

_entries: "OrderedDict[str, tuple[float, ChannelConnection]]" = OrderedDict()
_lock = threading.Lock()


def recall(key: str) -> ChannelConnection | None:
    with _lock:
        entry = _entries.get(key)
        if entry is None:
            return None
        remembered_at, connection = entry
        if time.monotonic() - remembered_at > MAX_AGE_SECONDS:
            del _entries[key]
            return None
        _entries.move_to_end(key)
        return connection


def remember(connection: ChannelConnection) -> None:
    if connection.row_version is None or not connection.secrets_readable:
        return  # not on PostgreSQL; or read before the right FIELD_ENCRYPTION_KEYS are back
    with _lock:
        _entries[connection.key] = (time.monotonic(), connection)
        _entries.move_to_end(connection.key)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)


def forget(key: str) -> None:
    with _lock:
        _entries.pop(key, None)


def forget_all() -> None:
    with _lock:
        _entries.clear()
