"""The inbox websocket: transport only. Authenticate, join the org's group, forward."""

import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from conversations.events import inbox_group
from handoff_site.errors import DomainError
from inbox import ws_actions
from inbox.selectors import inbox_snapshot
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


class InboxConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self):
        user = self.scope.get("user")
        if not (user and user.is_authenticated):
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        session = self.scope.get("session") or {}
        try:
            self.organization = await database_sync_to_async(_organization_for)(user, session.get("organization_id"))
        except DomainError:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.group = inbox_group(self.organization.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json(await database_sync_to_async(inbox_snapshot)(user=user, organization=self.organization))

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            await self.send_json({"type": "error", "code": "invalid_input", "message": "Send a JSON object."})
            return
        request_id = content.get("request_id")
        kind = content.get("type")
        if kind == "ping":
            await self.send_json({"type": "pong", "request_id": request_id})
            return
        if kind == "snapshot":
            await self.send_json(
                await database_sync_to_async(inbox_snapshot)(user=self.scope["user"], organization=self.organization)
            )
            return
        action = ws_actions.ACTIONS.get(kind)
        if action is None:
            await self.send_json({"type": "error", "request_id": request_id, "code": "unknown_type",
                                  "message": f"Unknown message type {kind!r}."})
            return
        try:
            result = await database_sync_to_async(action)(self.scope["user"], content)
        except DomainError as error:
            await self.send_json({"type": "error", "request_id": request_id, "action": kind, **error.as_dict()})
            return
        except Exception:
            logger.exception("Inbox action %s failed", kind)
            await self.send_json({"type": "error", "request_id": request_id, "action": kind,
                                  "code": "server_error", "message": "Something went wrong. Please try again."})
            return
        await self.send_json({"type": "result", "request_id": request_id, "action": kind, **result})

    async def inbox_event(self, message):
        await self.send_json(message["event"])

    @classmethod
    async def decode_json(cls, text_data):
        try:
            return await super().decode_json(text_data)
        except ValueError:
            return None
