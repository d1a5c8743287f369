"""The connection form: per-platform credentials are write-only fields, never rendered back."""

from django import forms

from billing.entitlements import can_add_channel
from channels_gateway.adapters.registry import ADAPTER_PATHS, adapter_for
from channels_gateway.selectors import active_channel_count
from channels_gateway.models import ChannelConnection, Platform


def secret_field_name(platform: str, name: str) -> str:
    return f"secret__{platform}__{name}"


def config_field_name(platform: str, name: str) -> str:
    return f"config__{platform}__{name}"


def platform_field_names(platform: str) -> tuple[list[str], list[str]]:
    adapter = adapter_for(platform)
    return (
        [secret_field_name(platform, name) for name in adapter.secret_fields],
        [config_field_name(platform, name) for name in adapter.config_fields],
    )


class ChannelConnectionForm(forms.ModelForm):
    class Meta:
        model = ChannelConnection
        fields = ["organization", "agent", "platform", "name", "is_active", "config"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored_secrets = self.stored_secrets()
        stored_config = self.instance.config or {}
        same_platform = self.instance.pk is not None
        for platform in ADAPTER_PATHS:
            adapter = adapter_for(platform)
            label = Platform(platform).label
            for name, help_text in adapter.secret_fields.items():
                is_set = same_platform and self.instance.platform == platform and bool(stored_secrets.get(name))
                if same_platform and self.instance.platform == platform and not self.instance.secrets_readable:
                    state = "Stored, but the configured FIELD_ENCRYPTION_KEYS cannot decrypt it: type it again."
                else:
                    state = "Set; leave blank to keep it." if is_set else "Not set."
                self.fields[secret_field_name(platform, name)] = forms.CharField(
                    label=f"{label}: {name}",
                    required=False,
                    strip=True,
                    widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                    help_text=f"{help_text} {state}",
                )
            for name, help_text in adapter.config_fields.items():
                current = stored_config.get(name, "") if self.instance.platform == platform else ""
                self.fields[config_field_name(platform, name)] = forms.CharField(
                    label=f"{label}: {name}", required=False, initial=current, help_text=help_text,
                )
        self.fields["config"].required = False
        self.fields["config"].help_text = "Advanced settings as JSON (the widget's allowed_origins, for example)."

    def clean(self):
        cleaned = super().clean()
        organization = cleaned.get("organization") or getattr(self.instance, "organization", None)
        agent, platform = cleaned.get("agent"), self.chosen_platform()
        if organization and agent and agent.organization_id != organization.pk:
            self.add_error("agent", "This AI agent belongs to another organization.")
        becomes_active = cleaned.get("is_active") and not (self.instance.pk and self.instance.is_active)
        if organization and becomes_active:
            entitlement = can_add_channel(organization=organization,
                                          channels=active_channel_count(organization=organization))
            if not entitlement.allowed:
                self.add_error(None, f"{entitlement.reason} Switch one off, or change the plan.")
        if platform:
            keeps_secrets = self.instance.pk is not None and self.instance.platform == platform
            for name in adapter_for(platform).secret_fields:
                typed = cleaned.get(secret_field_name(platform, name))
                if not typed and not (keeps_secrets and self.stored_secrets().get(name)):
                    self.add_error(secret_field_name(platform, name), "Required for this platform.")
        return cleaned

    def stored_secrets(self) -> dict:
        """What is stored, to tell "set" from "missing"; nothing when no key decrypts it."""
        if not self.instance.secrets_readable:
            return {}
        return self.instance.secrets or {}

    def chosen_platform(self) -> str | None:
        # Fixed (read-only) once the connection exists.
        return self.instance.platform if self.instance.pk else self.cleaned_data.get("platform")

    def typed_secrets(self) -> dict[str, str]:
        platform = self.chosen_platform()
        return {
            name: value
            for name in adapter_for(platform).secret_fields
            if (value := self.cleaned_data.get(secret_field_name(platform, name)))
        }

    def typed_config(self) -> dict[str, str]:
        platform = self.chosen_platform()
        return {
            name: self.cleaned_data.get(config_field_name(platform, name), "").strip()
            for name in adapter_for(platform).config_fields
        }
