"""Oddly shaped payloads, as a platform (or whoever holds its signing key) could send them.

`odd_variants(payload)` yields a copy of a documented payload for every field, nested ones
included, replaced by each of `ODD_VALUES`: a number where a string belongs, a string where
an object belongs, a list where a dict belongs… A webhook test posts each, properly signed,
and checks the answer is never a 5xx (which makes the platform send it again forever).
"""

import copy
from collections.abc import Iterator

ODD_VALUES = (None, 7, "x", [7], {"x": 7})

Path = tuple[str | int, ...]


def paths(value, prefix: Path = ()) -> Iterator[Path]:
    """Every key and index in `value`, depth first, parents before their children."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, child in items:
        yield (*prefix, key)
        yield from paths(child, (*prefix, key))


def replaced(payload, path: Path, value):
    copied = copy.deepcopy(payload)
    target = copied
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = copy.deepcopy(value)
    return copied


def odd_variants(payload, values=ODD_VALUES, *, skip: Path = ()) -> Iterator[tuple[str, object]]:
    """(where, the payload with that field made odd); paths starting with `skip` are left alone
    (a signature a test must keep valid, say)."""
    for path in paths(payload):
        if skip and path[:len(skip)] == skip:
            continue
        current = _at(payload, path)
        for value in values:
            if type(value) is type(current) and value == current:
                continue
            yield f"{'.'.join(map(str, path))} = {value!r}", replaced(payload, path, value)


def _at(payload, path: Path):
    for key in path:
        payload = payload[key]
    return payload


def check_instead_of_storing(monkeypatch) -> list:
    """Have the webhook view hand what an adapter read to a check instead of the database
    (hundreds of variants stay fast): every message's fields must be text the store takes.
    Returns the list the messages are collected in."""
    from channels_gateway import views

    taken: list = []

    def check(*, connection, messages) -> int:
        for message in messages:
            for name in ("contact_external_id", "thread_id", "text", "contact_name"):
                assert isinstance(getattr(message, name), str), (name, message)
            assert message.platform_message_id is None or isinstance(message.platform_message_id, str), message
        taken.extend(messages)
        return len(messages)

    monkeypatch.setattr(views, "receive_webhook_messages", check)
    return taken
