"""Membership changes reach the member's open inbox tabs, which re-check their access."""

from handoff_site.realtime import send_to_group_on_commit


def member_group(user_id: int) -> str:
    return f"member-{user_id}"


def publish_membership_changed(*, user_id: int, organization_id: int) -> None:
    send_to_group_on_commit(member_group(user_id), {"type": "membership.changed", "organization_id": organization_id})
