"""The inbox websocket: transport only. Authenticate, join the org's group, forward."""

import logging

from channels.db import database_sync_to_async

from conversations.events import inbox_group
from handoff_site.database_outage import DATABASE_OUTAGE_ERRORS, OUTAGE_MESSAGE, read_database
from handoff_site.errors import DomainError
from handoff_site.json_socket import CLOSE_RECONNECT, JsonSocketConsumer
from handoff_site.realtime import stream_position
from inbox import tab_heartbeat, ws_actions
from inbox.selectors import inbox_snapshot
from inbox.services import tab_close, tab_open
from orgs.events import member_group
from orgs.permissions import authorize
from orgs.roles import OrgPermission
from orgs.selectors import organization_for_member

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


def _organization_for(user, organization_id):
    organization = organization_for_member(user=user, organization_id=organization_id)
    authorize(user, organization, OrgPermission.VIEW_INBOX)
    return organization


def _snapshot_if_allowed(user, organization_id, position):
    return inbox_snapshot(user=user, organization=_organization_for(user, organization_id), position=position)


class InboxConsumer(JsonSocketConsumer):
    group: str | None = None
    member_group: str | None = None

    async def connect(self):
        user = self.scope.get("user")
        if not (user and user.is_authenticated):
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        session = self.scope.get("session") or {}
        try:
            self.organization = await read_database(_organization_for, user, session.get("organization_id"))
        except DomainError:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.group = inbox_group(self.organization.pk)
        self.member_group = member_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.channel_layer.group_add(self.member_group, self.channel_name)
        self.socket = ws_actions.Socket(self.organization, self.channel_name)
        await self.accept()
        await database_sync_to_async(tab_open)(user=user, organization=self.organization,
                                               channel_name=self.channel_name)
        tab_heartbeat.tab_opened(self.channel_name)
        # Read after joining the group, before the snapshot's queries: every event at or below
        # the position is in the snapshot, every later one reaches this socket (or leaves a gap).
        position = await stream_position(self.group)
        await self.send_json(await read_database(
            inbox_snapshot, user=user, organization=self.organization, position=position))

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.channel_layer.group_discard(self.member_group, self.channel_name)
            tab_heartbeat.tab_closed(self.channel_name)
            await database_sync_to_async(tab_close)(channel_name=self.channel_name)

    async def receive_json(self, content, **kwargs):
        request_id = content.get("request_id")
        kind = content.get("type")
        if kind == "snapshot":
            await self.send_fresh_snapshot()
            return
        if kind == "ping":
            await self.pong(request_id)
            return
        action = ws_actions.ACTIONS.get(kind) or ws_actions.SIGNALS.get(kind)
        if action is None:
            await self.send_json({"type": "error", "request_id": request_id, "code": "unknown_type",
                                  "message": f"Unknown message type {kind!r}."})
            return
        try:
            result = await database_sync_to_async(action)(self.scope["user"], content, self.socket)
        except DomainError as error:
            await self.send_json({"type": "error", "request_id": request_id, "action": kind, **error.as_dict()})
            return
        except DATABASE_OUTAGE_ERRORS:
            await self.send_json({"type": "error", "request_id": request_id, "action": kind,
                                  "code": "service_unavailable", "message": OUTAGE_MESSAGE})
            return
        except Exception:
            logger.exception("Inbox action %s failed", kind)
            await self.send_json({"type": "error", "request_id": request_id, "action": kind,
                                  "code": "server_error", "message": "Something went wrong. Please try again."})
            return
        if result is not None:
            await self.send_json({"type": "result", "request_id": request_id, "action": kind, **result})

    async def pong(self, request_id) -> None:
        """The tab's row is kept fresh by the process's heartbeat (inbox/tab_heartbeat.py)."""
        # Group membership expires in the core channel layer (a day by default); a tab kept
        # open over a weekend renews it with every ping.
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.channel_layer.group_add(self.member_group, self.channel_name)
        # The stream's position: a tab whose last events were lost notices it here.
        await self.send_json({"type": "pong", "request_id": request_id,
                              **_position_fields(await stream_position(self.group))})

    async def inbox_event(self, message):
        await self.send_json({**message["event"], **_position_fields(message.get("position"))})

    async def membership_changed(self, message):
        """Removed, or a role changed: keep the feed only while the access still holds."""
        if message["organization_id"] == self.organization.pk:
            await self.send_fresh_snapshot()

    async def send_fresh_snapshot(self):
        """The access is checked again each time: a removed member's tab closes. With the
        database away the tab closes too, and reconnects (and reloads) once it is back."""
        position = await stream_position(self.group)
        try:
            snapshot = await read_database(_snapshot_if_allowed, self.scope["user"], self.organization.pk, position)
        except DomainError:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        except DATABASE_OUTAGE_ERRORS as error:
            logger.warning("Database unavailable for an inbox snapshot: %s", type(error).__name__)
            await self.close(code=CLOSE_RECONNECT)
            return
        await self.send_json(snapshot)


def _position_fields(position: dict | None) -> dict:
    return {"epoch": position["epoch"], "seq": position["seq"]} if position else {}
