"""Worker entry points: each a line that calls a service."""

from inbox import services


def sweep_stale_tabs() -> int:
    return services.stale_tabs_sweep()
