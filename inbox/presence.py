"""Who is online, computed from live inbox tabs (rows, not process memory)."""

from datetime import timedelta

# The page pings every 25 s; a tab silent for this long is gone (closed, asleep, or its
# web process died).
TAB_TIMEOUT = timedelta(seconds=90)


def presence_from(states: list[str]) -> str:
    if not states:
        return "offline"
    return "online" if "active" in states else "away"
