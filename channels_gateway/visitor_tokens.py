"""A widget visitor's identity: a random id, signed so a browser cannot claim someone else's."""

import secrets

from django.core import signing

SALT = "handoff.widget.visitor"


def new_visitor_token(connection_key: str) -> tuple[str, str]:
    visitor_id = secrets.token_urlsafe(18)
    return visitor_id, signing.dumps({"v": visitor_id, "k": connection_key}, salt=SALT, compress=True)


def visitor_from_token(token: str, connection_key: str) -> str | None:
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("k") != connection_key or not isinstance(data.get("v"), str):
        return None
    return data["v"]
