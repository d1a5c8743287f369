from django.apps import AppConfig


class ChannelsGatewayConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "channels_gateway"
    verbose_name = "Channels"

    def ready(self) -> None:
        from channels_gateway.encryption import check_keys_at_startup

        check_keys_at_startup()
