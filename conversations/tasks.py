"""Worker entry points: each a line that calls a service."""

from conversations.services import agent_turn, deadlines


def run_agent_turn(message_id: int) -> None:
    agent_turn.run_agent_turn(message_id=message_id)


def remind_if_still_queued(session_id: int) -> bool:
    return deadlines.send_reminder_if_due(session_id=session_id)


def expire_if_still_queued(session_id: int) -> bool:
    return deadlines.expire_if_due(session_id=session_id)


def sweep() -> dict:
    return deadlines.sweep()
