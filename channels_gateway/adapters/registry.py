"""Adapters by platform and by webhook URL segment.

Imported on first use, so one platform's SDK is loaded only where it is needed.
"""

from functools import cache

from django.utils.module_loading import import_string

from channels_gateway.adapters.base import ChannelAdapter
from channels_gateway.models import Platform

ADAPTER_PATHS: dict[str, str] = {
    Platform.WIDGET: "channels_gateway.adapters.widget.WidgetAdapter",
    Platform.TELEGRAM: "channels_gateway.adapters.telegram.TelegramAdapter",
    Platform.DISCORD: "channels_gateway.adapters.discord.DiscordAdapter",
    Platform.SLACK: "channels_gateway.adapters.slack.SlackAdapter",
    Platform.MESSENGER: "channels_gateway.adapters.meta.MessengerAdapter",
    Platform.INSTAGRAM: "channels_gateway.adapters.meta.InstagramAdapter",
    Platform.WHATSAPP: "channels_gateway.adapters.whatsapp.WhatsAppAdapter",
    Platform.GOOGLE_CHAT: "channels_gateway.adapters.google_chat.GoogleChatAdapter",
    Platform.API: "channels_gateway.adapters.api.ApiAdapter",
}

# `/webhooks/<segment>/<key>/`: Messenger and Instagram share Meta's one webhook.
WEBHOOK_SEGMENTS: dict[str, tuple[str, ...]] = {
    "telegram": (Platform.TELEGRAM,),
    "discord": (Platform.DISCORD,),
    "slack": (Platform.SLACK,),
    "meta": (Platform.MESSENGER, Platform.INSTAGRAM),
    "whatsapp": (Platform.WHATSAPP,),
    "google-chat": (Platform.GOOGLE_CHAT,),
}


@cache
def adapter_for(platform: str) -> ChannelAdapter:
    try:
        path = ADAPTER_PATHS[platform]
    except KeyError:
        raise LookupError(f"No channel adapter for platform {platform!r}") from None
    return import_string(path)()


def platforms_for_segment(segment: str) -> tuple[str, ...]:
    return WEBHOOK_SEGMENTS.get(segment, ())


def webhook_segment_of(platform: str) -> str | None:
    return next((segment for segment, platforms in WEBHOOK_SEGMENTS.items() if platform in platforms), None)
