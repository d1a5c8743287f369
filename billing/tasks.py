"""Worker entry points: each a line that calls a service."""

from billing import services


def apply_retention() -> int:
    return services.retention_apply()
