from channels_gateway.adapters.base import ChannelAdapter
from channels_gateway.adapters.widget import WidgetAdapter

_ADAPTERS: dict[str, ChannelAdapter] = {adapter.platform: adapter for adapter in [WidgetAdapter()]}


def adapter_for(platform: str) -> ChannelAdapter:
    try:
        return _ADAPTERS[platform]
    except KeyError:
        raise LookupError(f"No channel adapter for platform {platform!r}") from None
