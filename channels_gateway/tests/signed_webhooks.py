"""Every platform's webhook, signed as that platform signs it, behind one small interface, for
the tests that run the same check on all of them (test_signatures, test_credentials_at_rest).

A `SignedPlatform` makes a connection with fresh credentials, builds a user's text message
with a fresh message id, signs a body as the platform would (optionally `age` seconds ago),
forges a signature, and serves the platform's API (a fake on 127.0.0.1) for replies.
Payload builders come from each platform's own test module: one documented example each.
"""

import contextlib
import json
import secrets
import socket
import time
from dataclasses import dataclass

from django.test import Client

from channels_gateway.adapters.google_chat import clear_caches
from channels_gateway.adapters.meta_webhooks import sign as meta_sign
from channels_gateway.models import ChannelConnection, Platform
from channels_gateway.tests import test_discord, test_google_chat, test_meta, test_slack, test_telegram, test_whatsapp
from channels_gateway.tests.factories import ChannelConnectionFactory
from tests.fakes.discord_api import FakeDiscordAPI, signed_headers
from tests.fakes.google_chat_api import ChatSigner, FakeGoogle, new_rsa_key, service_account_info
from tests.fakes.meta_graph_api import FakeGraphAPI, dumps
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import FakeTelegram


def closed_port_url() -> str:
    """An address nothing listens on: the platform is unreachable."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@dataclass
class SignedPlatform:
    platform: str
    segment: str
    # Does the signature carry a time (so an old one is refused), or only the message id
    # absorbs a replay (Telegram, Meta)?
    signs_time: bool = False
    # The status a forged request gets (Meta answers 403 to a signature that does not match).
    forged_status: int = 401
    # How old a signature must be to be refused (beyond the platform's window).
    stale_age: int = 0

    def __str__(self) -> str:
        return self.platform

    # Credentials ---------------------------------------------------------------------------

    def connection(self, agent) -> ChannelConnection:
        credentials, config = self.credentials()
        return ChannelConnectionFactory(agent=agent, platform=self.platform, name=f"{self.platform} {agent.pk}",
                                        secrets=credentials, config=config)

    def credentials(self) -> tuple[dict, dict]:
        raise NotImplementedError

    # Requests ------------------------------------------------------------------------------

    def body(self, connection: ChannelConnection, text: str) -> bytes:
        raise NotImplementedError

    def headers(self, connection: ChannelConnection, body: bytes, *, age: int = 0) -> dict:
        """What the platform sends for `connection`, signed `age` seconds ago."""
        raise NotImplementedError

    def forged_headers(self, connection: ChannelConnection, body: bytes) -> dict:
        raise NotImplementedError

    def post(self, client: Client, connection: ChannelConnection, body: bytes, headers: dict):
        return client.post(f"/webhooks/{self.segment}/{connection.key}/", data=body,
                           content_type="application/json", headers=headers)

    # The platform's API, for replies ---------------------------------------------------------

    @contextlib.contextmanager
    def api(self, settings, connection: ChannelConnection):
        yield

    def make_unreachable(self, settings) -> None:
        raise NotImplementedError

    def secret_values(self, connection: ChannelConnection) -> list[str]:
        """Every credential string; of a service account key, its private key too (and a line
        of it: a log line could carry part of a PEM)."""
        values = []
        for value in connection.secrets.values():
            values.append(value)
            if value.startswith("{"):
                private_key = json.loads(value)["private_key"]
                values.extend([private_key, private_key.splitlines()[2], json.loads(value)["private_key_id"]])
        return values


class Telegram(SignedPlatform):
    def credentials(self):
        bot_id = 1_000_000_000 + secrets.randbelow(9_000_000_000)
        return {"bot_token": f"{bot_id}:{secrets.token_urlsafe(26)}", "secret_token": secrets.token_urlsafe(32)}, {}

    def body(self, connection, text):
        return json.dumps(test_telegram.User().update(text)).encode()

    def headers(self, connection, body, *, age=0):
        return {test_telegram.HEADER: connection.secrets["secret_token"]}

    def forged_headers(self, connection, body):
        return {test_telegram.HEADER: secrets.token_urlsafe(32)}

    @contextlib.contextmanager
    def api(self, settings, connection):
        with FakeTelegram(connection.secrets["bot_token"]) as fake:
            settings.TELEGRAM_API_BASE_URL = fake.url
            yield fake

    def make_unreachable(self, settings):
        settings.TELEGRAM_API_BASE_URL = closed_port_url()


class Slack(SignedPlatform):
    def credentials(self):
        return {"bot_token": f"xoxb-{secrets.randbelow(10**12)}-{secrets.token_hex(12)}",
                "signing_secret": secrets.token_hex(16)}, {}

    def body(self, connection, text):
        return json.dumps(test_slack.dm(text)).encode()

    def headers(self, connection, body, *, age=0):
        timestamp = str(int(time.time()) - age)
        return {"X-Slack-Request-Timestamp": timestamp,
                "X-Slack-Signature": test_slack.sign(connection.secrets["signing_secret"], timestamp, body)}

    def forged_headers(self, connection, body):
        timestamp = str(int(time.time()))
        return {"X-Slack-Request-Timestamp": timestamp,
                "X-Slack-Signature": test_slack.sign(secrets.token_hex(16), timestamp, body)}

    @contextlib.contextmanager
    def api(self, settings, connection):
        with FakeSlack(token=connection.secrets["bot_token"]) as fake:
            settings.SLACK_API_BASE_URL = fake.api_url
            yield fake

    def make_unreachable(self, settings):
        settings.SLACK_API_BASE_URL = closed_port_url()


class Discord(SignedPlatform):
    def credentials(self):
        from channels_gateway.adapters.discord import DiscordAdapter

        return DiscordAdapter().demo_credentials()  # the private key stays in config: the platform's side

    def body(self, connection, text):
        return json.dumps(test_discord.ask(text)).encode()

    def headers(self, connection, body, *, age=0):
        return signed_headers(connection.config["demo_private_key_hex"], body, timestamp=str(int(time.time()) - age))

    def forged_headers(self, connection, body):
        other_secrets, other_config = self.credentials()
        return signed_headers(other_config["demo_private_key_hex"], body)

    @contextlib.contextmanager
    def api(self, settings, connection):
        with FakeDiscordAPI(bot_token=connection.secrets["bot_token"]) as fake:
            settings.DISCORD_API_BASE_URL = fake.base_url
            yield fake

    def make_unreachable(self, settings):
        settings.DISCORD_API_BASE_URL = closed_port_url()


class Meta(SignedPlatform):
    """Messenger, Instagram and WhatsApp: X-Hub-Signature-256 with the app secret."""

    def credentials(self):
        return {"app_secret": secrets.token_hex(16), "verify_token": secrets.token_urlsafe(16),
                "page_access_token": "EAA" + secrets.token_urlsafe(40)}, self.config()

    def config(self) -> dict:
        return {"page_id": test_meta.PAGE_ID} if self.platform == Platform.MESSENGER \
            else {"ig_user_id": test_meta.IG_ID}

    def body(self, connection, text):
        return dumps(test_meta.text_payload(connection, text))

    def headers(self, connection, body, *, age=0):
        return {"X-Hub-Signature-256": meta_sign(connection.secrets["app_secret"], body)}

    def forged_headers(self, connection, body):
        return {"X-Hub-Signature-256": meta_sign(secrets.token_hex(16), body)}

    @contextlib.contextmanager
    def api(self, settings, connection):
        with FakeGraphAPI() as fake:
            settings.META_GRAPH_BASE_URL = fake.base_url
            self.register(fake, connection)
            yield fake

    def register(self, fake: FakeGraphAPI, connection) -> None:
        fake.add_page(connection.secrets["page_access_token"], self.platform)

    def make_unreachable(self, settings):
        settings.META_GRAPH_BASE_URL = closed_port_url()


class WhatsApp(Meta):
    def credentials(self):
        return {"app_secret": secrets.token_hex(16), "verify_token": secrets.token_urlsafe(16),
                "access_token": "EAA" + secrets.token_urlsafe(40)}, \
            {"phone_number_id": test_whatsapp.PHONE_NUMBER_ID, "template_name": "", "template_language": "en_US"}

    def body(self, connection, text):
        return dumps(test_whatsapp.text_payload(text))

    def register(self, fake, connection):
        fake.add_phone_number(test_whatsapp.PHONE_NUMBER_ID, connection.secrets["access_token"])


class GoogleChat(SignedPlatform):
    """A bearer JWT signed by Chat's key; its `exp` is the replay window."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.google: FakeGoogle | None = None
        self._chat = self._app_key = None

    def serve(self, google: FakeGoogle, settings) -> None:
        """Google's certificates and token endpoint: needed to verify inbound requests too."""
        if self._chat is None:  # RSA keys take a moment: one per run
            self._chat, self._app_key = ChatSigner(key=new_rsa_key(), key_id="chat-key-1"), new_rsa_key()
        google.reset()
        clear_caches()
        google.trust(self._chat)
        settings.GOOGLE_CHAT_API_BASE_URL = f"{google.url}/v1"
        settings.GOOGLE_OAUTH_TOKEN_URL = f"{google.url}/token"
        settings.GOOGLE_CHAT_CERTS_URL = f"{google.url}/certs/chat"
        settings.GOOGLE_OIDC_CERTS_URL = f"{google.url}/certs/oidc"
        self.google = google

    def credentials(self):
        info = self.google.register_service_account(service_account_info(key=self._app_key), key=self._app_key)
        return {"service_account_json": json.dumps(info)}, {"audience": str(10**11 + secrets.randbelow(9 * 10**11))}

    def body(self, connection, text):
        return json.dumps(test_google_chat.dm_event(text)).encode()

    def headers(self, connection, body, *, age=0):
        token = self._chat.token(connection.config["audience"], issued_at=int(time.time()) - age)
        return {"Authorization": f"Bearer {token}"}

    def forged_headers(self, connection, body):
        impostor = ChatSigner(key=test_google_chat.other_key(), key_id=self._chat.key_id)
        return {"Authorization": f"Bearer {impostor.token(connection.config['audience'])}"}

    def make_unreachable(self, settings):
        settings.GOOGLE_CHAT_API_BASE_URL = settings.GOOGLE_OAUTH_TOKEN_URL = closed_port_url()


SIGNED_PLATFORMS = [
    Telegram(Platform.TELEGRAM, "telegram"),
    Slack(Platform.SLACK, "slack", signs_time=True, stale_age=5 * 60 + 30),
    Discord(Platform.DISCORD, "discord", signs_time=True, stale_age=5 * 60 + 30),
    Meta(Platform.MESSENGER, "meta", forged_status=403),
    Meta(Platform.INSTAGRAM, "meta", forged_status=403),
    WhatsApp(Platform.WHATSAPP, "whatsapp", forged_status=403),
    # Chat's token lives an hour (plus google-auth's clock skew): an older one is refused.
    GoogleChat(Platform.GOOGLE_CHAT, "google-chat", signs_time=True, stale_age=3600 + 120),
]
