from django.apps import AppConfig


class ChannelsGatewayConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "channels_gateway"
    verbose_name = "Channels"
