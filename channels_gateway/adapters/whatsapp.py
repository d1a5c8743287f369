"""WhatsApp Business Platform, Cloud API.

Inbound: `{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages",
"value": {"metadata": {"phone_number_id"}, "contacts": [{"profile": {"name"}, "wa_id"}],
"messages": [{"from", "id": "wamid…", "type", ...}]}}]}]}`, signed like every Meta webhook.
A text becomes the message (thread = the sender's wa_id, id = the wamid, name from
`contacts[].profile.name`); a tapped button or list row is taken as its title; media, stickers,
locations, contacts, reactions and unsupported messages become placeholders. `statuses[]`
(sent/delivered/read/failed receipts for our own messages) are acknowledged and ignored.

Outbound: `POST {META_GRAPH_BASE_URL}/{phone_number_id}/messages` with a Bearer token. Inside
the 24-hour customer-service window a reply is a text message (split at 4096 characters).
After it, free-form messages are refused by WhatsApp (131047), so a teammate's reply goes out
as the connection's approved template, with the reply as the template's one body variable
`{{1}}`; without a template, or for an AI/system message, it fails before any call. A
message already partly sent as text is never finished as a template (the window closed
between attempts): its parts were cut differently, so it fails with the reason instead.
"""

import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from channels_gateway.adapters.base import (
    ChannelAdapter,
    InboundMessage,
    OutboundMessage,
    PermanentDeliveryError,
    SendResult,
    WebhookOutcome,
)
from channels_gateway.adapters.message_parts import send_in_parts, split_message, utf16_length
from channels_gateway.adapters.meta_webhooks import (
    graph_post,
    identifier,
    meta_webhook,
    object_at,
    objects_in,
)
from channels_gateway.adapters.webhook_body import skipped
from channels_gateway.models import ChannelConnection, Platform

logger = logging.getLogger(__name__)

CUSTOMER_SERVICE_WINDOW = timedelta(hours=24)
# A template's body (its own words plus the variable) is limited to 1024 characters; the
# reply gets 900 of them, leaving the template's own words about 120.
TEMPLATE_PARAMETER_LIMIT = 900

# Cloud API codes a later attempt can fix: 4 (API calls), 80007 (WABA rate limit), 130429
# (throughput), 131048 (spam rate limit), 131056 (pair rate limit), 1/2/131000/131016/133004
# (temporary or unknown server-side errors). Every other code fails the message: 131047
# (re-engagement: window closed), 131026 (undeliverable), 131051 (unsupported type), 100
# (invalid parameter), 190 (token expired), 132xxx (template problems)…
RETRYABLE_CODES = frozenset({1, 2, 4, 80007, 130429, 131000, 131016, 131048, 131056, 133004})

MEDIA_LABELS = {"image": "[Photo]", "video": "[Video]", "sticker": "[Sticker]", "order": "[Order]"}


def _words(*values) -> str:
    """The values that are non-blank strings or numbers, joined with spaces."""
    return " ".join(str(value).strip() for value in values
                    if isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value).strip())


def message_text(message: dict) -> str | None:
    """A readable text for a user's message; None for what is not a user message."""
    kind = message.get("type") if isinstance(message.get("type"), str) else ""
    body = message.get(kind) if kind and isinstance(message.get(kind), dict) else {}
    if kind == "text":
        return _words(body.get("body")) or None
    if kind == "interactive":  # a reply button or a list row the user tapped
        reply = body.get("button_reply") or body.get("list_reply")
        title = _words(reply.get("title")) if isinstance(reply, dict) else ""
        if title:
            return title
        return "[Form reply]" if body.get("nfm_reply") else "[Interactive reply]"
    if kind == "button":  # a template's quick-reply button
        return _words(body.get("text")) or _words(body.get("payload")) or "[Button]"
    if kind in MEDIA_LABELS:
        return _words(MEDIA_LABELS[kind], body.get("caption")) or None
    if kind == "audio":
        return "[Voice message]" if body.get("voice") else "[Audio]"
    if kind == "document":
        return _words("[Document]", body.get("filename"), body.get("caption"))
    if kind == "location":
        latitude, longitude = _words(body.get("latitude")), _words(body.get("longitude"))
        where = f"({latitude}, {longitude})" if latitude and longitude else ""
        return "[" + _words("Location", body.get("name"), body.get("address"), where) + "]"
    if kind == "contacts":
        contacts = objects_in(message, "contacts")
        names = [_words(object_at(contact, "name").get("formatted_name")) for contact in contacts]
        return "[Contact" + (": " + ", ".join(name for name in names if name) if any(names) else "") + "]"
    if kind == "reaction":
        emoji = _words(body.get("emoji"))
        return f"[Reaction {emoji}]" if emoji else None  # an empty emoji removes a reaction
    if kind in ("system", "request_welcome", "ephemeral"):
        return None
    return "[Unsupported message]"  # "unsupported", "unknown" and types added later


def _written_inside_window(message: OutboundMessage) -> bool:
    """Whether the message was written while the window was open, so its first attempt went
    out as text. One written after the window closed (or to someone who never wrote) was
    only ever sent as the template, and a retry resumes that split. A time we cannot read
    counts as inside: failing with the reason beats a reply with words missing or repeated."""
    last = message.last_user_message_at
    if last is None:
        return False
    try:
        created = datetime.fromisoformat(message.created_at)
        return created - last <= CUSTOMER_SERVICE_WINDOW
    except (TypeError, ValueError):  # unparsable, or naive against aware
        return True


class WhatsAppAdapter(ChannelAdapter):
    platform = Platform.WHATSAPP
    verifies_webhooks_in_memory = True
    label = "WhatsApp"
    # "The text of the message … Maximum 4096 characters", counted in UTF-16 units (never fewer).
    max_message_length = 4096
    secret_fields = {
        "app_secret": "App secret (App settings › Basic): checks X-Hub-Signature-256 on every webhook.",
        "verify_token": "Any random string; type the same into the webhook's Verify token field.",
        "access_token": "A system user's access token with whatsapp_business_messaging.",
    }
    config_fields = {
        "phone_number_id": "The business phone number's id (WhatsApp › API Setup), not the number itself.",
        "template_name": "Optional: an approved template whose body has one variable {{1}}; a teammate's "
                         "reply after the 24-hour window is sent through it.",
        "template_language": "The template's language code, e.g. en_US.",
    }
    setup_help = (
        "In your Meta app add WhatsApp, then WhatsApp › Configuration › Webhook: Callback URL = this "
        "connection's webhook URL, Verify token = the verify token above, and subscribe to the messages "
        "field. Copy the phone number id from WhatsApp › API Setup and create a system user token with "
        "whatsapp_business_messaging. App secret: App settings › Basic. Optional: an approved utility "
        "template with one body variable {{1}} so teammates can still reply after 24 hours."
    )

    def handle_webhook(self, connection: ChannelConnection, request) -> WebhookOutcome:
        payload, response = meta_webhook(connection, request)
        if response is not None:
            return WebhookOutcome(response=response)
        if payload.get("object") != "whatsapp_business_account":
            return WebhookOutcome()
        phone_number_id = str(connection.config.get("phone_number_id") or "").strip()
        messages: list[InboundMessage] = []
        for entry in objects_in(payload, "entry"):
            for change in objects_in(entry, "changes"):
                if change.get("field") != "messages":
                    continue
                value = object_at(change, "value")
                # Every number of the business account posts to the app's one URL: take ours.
                if phone_number_id and identifier(object_at(value, "metadata").get("phone_number_id")) \
                        != phone_number_id:
                    continue
                names = {
                    identifier(contact.get("wa_id")): _words(object_at(contact, "profile").get("name"))
                    for contact in objects_in(value, "contacts")
                }
                for message in objects_in(value, "messages"):
                    try:
                        inbound = self._inbound(message, names)
                    except (TypeError, ValueError, AttributeError, KeyError) as error:
                        # One message we cannot read must not cost the others (or Meta's 200).
                        skipped(self.label, f"a message that could not be read ({type(error).__name__})")
                        continue
                    if inbound is not None:
                        messages.append(inbound)
                self._note_failed_statuses(connection, objects_in(value, "statuses"))
        return WebhookOutcome(messages=messages)

    def _inbound(self, message: dict, names: dict[str | None, str]) -> InboundMessage | None:
        sender, message_id = identifier(message.get("from")), identifier(message.get("id"))
        if not sender or not message_id or message.get("group_id"):
            return None  # a group's message: a reply to the sender alone would leave the group's thread
        text = message_text(message)
        if text is None:
            return None
        return InboundMessage(contact_external_id=sender, thread_id=sender, text=text,
                              platform_message_id=message_id, contact_name=names.get(sender, ""))

    def _note_failed_statuses(self, connection: ChannelConnection, statuses: list[dict]) -> None:
        for status in statuses:
            if status.get("status") == "failed":
                errors = status.get("errors") if isinstance(status.get("errors"), list) else []
                first = errors[0] if errors and isinstance(errors[0], dict) else {}
                logger.info("WhatsApp reports message %s failed on connection %s: %s %s",
                            identifier(status.get("id")), connection.pk, _words(first.get("code")),
                            _words(first.get("title"))[:200])

    def send(self, connection: ChannelConnection, message: OutboundMessage) -> SendResult:
        token = connection.secrets.get("access_token") or ""
        phone_number_id = str(connection.config.get("phone_number_id") or "").strip()
        if not token or not phone_number_id:
            raise PermanentDeliveryError("WhatsApp: the access token or the phone number id is not configured")
        url = f"{settings.META_GRAPH_BASE_URL}/{phone_number_id}/messages"
        common = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": message.thread_id}

        last = message.last_user_message_at
        if last is not None and timezone.now() - last <= CUSTOMER_SERVICE_WINDOW:
            parts = split_message(message.text, self.max_message_length, length=utf16_length)
            bodies = [{**common, "type": "text", "text": {"body": part, "preview_url": False}} for part in parts]
        else:
            if message.parts_sent > 0 and _written_inside_window(message):
                # An earlier attempt sent the first parts as text, inside the window; the
                # template splits the reply differently (flattened, 900 a part), so "the
                # parts not yet sent" would repeat or drop words. Say so rather than guess.
                raise PermanentDeliveryError(
                    f"WhatsApp: {message.parts_sent} part(s) of this reply went out before the 24-hour "
                    "customer-service window closed; the rest cannot be sent as the template (it splits "
                    "the reply differently). Send the remainder as a new reply."
                )
            bodies = [{**common, "type": "template", "template": template}
                      for template in self._templates(connection, message)]

        def send_part(_text: str, index: int) -> str:
            answer = graph_post(self.label, url, token, bodies[index], retryable_codes=RETRYABLE_CODES)
            sent = answer.get("messages")
            return str(sent[0].get("id") or "") if isinstance(sent, list) and sent and isinstance(sent[0], dict) else ""

        return send_in_parts(message, [str(index) for index in range(len(bodies))], send_part)

    def _templates(self, connection: ChannelConnection, message: OutboundMessage) -> list[dict]:
        """The reply as template messages, for after the window; raises when that is not allowed."""
        name = str(connection.config.get("template_name") or "").strip()
        if message.author_kind != "teammate":
            raise PermanentDeliveryError(
                "WhatsApp: outside the 24-hour customer-service window; only a teammate's reply can be "
                "sent after it (as the configured template)."
            )
        if not name:
            raise PermanentDeliveryError("Outside WhatsApp's 24-hour window and no template is configured")
        language = str(connection.config.get("template_language") or "").strip() or "en_US"
        # Template variables cannot hold new lines, tabs or runs of spaces.
        flat = " ".join(message.text.split())
        return [
            {"name": name, "language": {"code": language},
             "components": [{"type": "body", "parameters": [{"type": "text", "text": part}]}]}
            for part in split_message(flat, TEMPLATE_PARAMETER_LIMIT, length=utf16_length)
        ]

    def demo_credentials(self) -> tuple[dict, dict]:
        return (
            {
                "app_secret": secrets.token_hex(16),
                "verify_token": secrets.token_urlsafe(16),
                "access_token": "EAADemo" + secrets.token_urlsafe(40),
            },
            {
                "phone_number_id": "10" + "".join(str(secrets.randbelow(10)) for _ in range(13)),
                "template_name": "",
                "template_language": "en_US",
            },
        )

    def platform_side(self, connection: ChannelConnection) -> dict:
        return {
            "app_secret": connection.secrets.get("app_secret", ""),
            "verify_token": connection.secrets.get("verify_token", ""),
            # `metadata.phone_number_id` in the notifications Meta sends for this connection.
            "phone_number_id": connection.config.get("phone_number_id", ""),
        }
