"""A demo org a newcomer can log into: an owner, two teammates, an AI agent and a widget."""

import json
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from billing.plans import PlanCode
from channels_gateway.adapters.registry import WEBHOOK_SEGMENTS, adapter_for
from channels_gateway.models import ChannelConnection, Platform
from channels_gateway.selectors import webhook_url
from conversations.models import AIAgent
from orgs.models import ApiKey, ApiKeyRole, Organization
from orgs.roles import Role
from orgs.services import api_key_create, api_key_revoke, membership_set_role

DEMO_USERS = [
    # username, first name, last name, role, staff (Django admin)
    ("admin", "Alex", "Admin", Role.OWNER, True),
    ("ana", "Ana", "Silva", Role.AGENT, False),
    ("ben", "Ben", "Okafor", Role.AGENT, False),
]


DEMO_KEY_NAME = "Demo key"
DEMO_PLATFORMS = [platform for platforms in WEBHOOK_SEGMENTS.values() for platform in platforms]


def _password() -> str:
    return secrets.token_urlsafe(9)


class Command(BaseCommand):
    help = "Create (or refresh) the demo organization and print how to log in. Passwords are new each run."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the same as one JSON object.")
        parser.add_argument("--force", action="store_true",
                            help="Run outside DEBUG and the embedded default (it creates a superuser with a "
                                 "printed password: never on a production database).")

    @transaction.atomic
    def handle(self, *args, **options):
        if not (settings.DEBUG or settings.EMBEDDED or options["force"]):
            raise CommandError(
                "seed_demo creates a superuser whose password it prints. It runs with DEBUG=1 or on the "
                "embedded default; pass --force to run it on this database anyway."
            )
        organization, _ = Organization.objects.update_or_create(
            slug="demo", defaults={"name": "Demo Company", "plan": PlanCode.PRO}
        )
        users = []
        for username, first_name, last_name, role, staff in DEMO_USERS:
            password = _password()
            user, _ = get_user_model().objects.update_or_create(
                username=username,
                defaults={
                    "first_name": first_name, "last_name": last_name, "email": f"{username}@demo.example",
                    "is_staff": staff, "is_superuser": staff, "is_active": True,
                },
            )
            user.set_password(password)
            user.save(update_fields=["password"])
            membership_set_role(organization=organization, user=user, role=role)
            users.append({"username": username, "password": password, "role": role.value,
                          "name": f"{first_name} {last_name}", "email": user.email})

        agent, _ = AIAgent.objects.get_or_create(
            organization=organization, name="Demo Assistant",
            defaults={
                "system_prompt": "You are the friendly assistant of Demo Company, a small online shop. "
                "Help with orders, deliveries, returns and accounts.",
                "handoff_enabled": True,
            },
        )
        widget, _ = ChannelConnection.objects.get_or_create(
            organization=organization, agent=agent, platform=Platform.WIDGET,
            defaults={"name": "Demo website", "config": {"demo": True, "allowed_origins": ["*"]}},
        )
        channels = [self._demo_channel(organization, agent, platform) for platform in DEMO_PLATFORMS]
        api = self._demo_api(organization, agent)
        site = settings.SITE_URL
        report = {
            "organization": {"id": organization.pk, "name": organization.name, "plan": organization.plan},
            "users": users,
            "agent": {"id": agent.pk, "name": agent.name, "handoff_enabled": agent.handoff_enabled},
            "widget": {
                "key": widget.key,
                "embed": f'<script src="{site}/widget.js" data-agent="{widget.key}" async></script>',
            },
            "channels": channels,
            "api": api,
            "urls": {"demo": f"{site}/demo/", "inbox": f"{site}/inbox/", "admin": f"{site}/admin/"},
        }
        if options["json"]:
            self.stdout.write(json.dumps(report))
            return
        self.stdout.write(self.style.SUCCESS(f"Demo organization “{organization.name}” is ready."))
        for user in users:
            self.stdout.write(f"  {user['role']:<6} {user['username']:<6} password: {user['password']}")
        self.stdout.write(f"  Be the user:     {report['urls']['demo']}")
        self.stdout.write(f"  Be the teammate: {report['urls']['inbox']}")
        self.stdout.write(f"  Configure:       {report['urls']['admin']}")
        self.stdout.write("  Play a platform (test credentials: seed_demo --json):")
        for channel in channels:
            self.stdout.write(f"    {channel['platform']:<12} {channel['webhook_url']}")

    def _demo_api(self, organization, agent) -> dict:
        """The API channel and a fresh agent key (the previous demo key is revoked): for
        playing your own agent with curl."""
        connection = ChannelConnection.objects.filter(organization=organization, platform=Platform.API,
                                                      config__demo=True).first()
        if connection is None:
            connection = ChannelConnection.objects.create(
                organization=organization, agent=agent, platform=Platform.API, name="Demo API agent",
                config={"demo": True},
            )
        for old in ApiKey.objects.filter(organization=organization, name=DEMO_KEY_NAME, revoked_at__isnull=True):
            api_key_revoke(api_key=old)
        _, plaintext = api_key_create(organization=organization, name=DEMO_KEY_NAME, role=ApiKeyRole.AGENT)
        return {"connection": connection.key, "key": plaintext, "base_url": f"{settings.SITE_URL}/api/v1/"}

    def _demo_channel(self, organization, agent, platform: str) -> dict:
        """One connection per platform with generated test credentials, kept across runs so a
        script playing the platform keeps working."""
        adapter = adapter_for(platform)
        connection = ChannelConnection.objects.filter(organization=organization, agent=agent, platform=platform,
                                                      config__demo=True).first()
        if connection is None:
            secrets, config = adapter.demo_credentials()
            connection = ChannelConnection.objects.create(
                organization=organization, agent=agent, platform=platform,
                name=f"Demo {Platform(platform).label}", secrets=secrets, config={**config, "demo": True},
            )
        return {"platform": platform, "name": connection.name, "key": connection.key,
                "webhook_url": webhook_url(connection), **adapter.platform_side(connection)}
