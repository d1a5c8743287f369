"""Log-in attempts are limited per username and address (django-axes): the login page says so."""

import os
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.test import AsyncClient, Client
from django.urls import reverse

from axes.models import AccessAttempt
from orgs.roles import Role
from orgs.tests.factories import OrganizationFactory, UserFactory, member

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def ana(db):
    return member(OrganizationFactory(), Role.AGENT, username="ana")


def attempt(client: Client, password: str, username: str = "ana", path: str | None = None):
    return client.post(path or reverse("login"), {"username": username, "password": password, "next": "/inbox/"})


def client_from(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def test_a_wrong_password_is_a_form_error_until_the_limit(ana, settings):
    client = client_from("203.0.113.7")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = attempt(client, "wrong")
        assert response.status_code == 200
        assert b"correct username and password" in response.content


def test_after_the_limit_the_login_page_says_wait_even_for_the_right_password(ana, settings):
    client = client_from("203.0.113.7")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, "wrong")
    locked = attempt(client, "wrong")
    assert locked.status_code == 429 and locked["Retry-After"] == "900"
    page = locked.content.decode()
    assert "Too many failed log-ins" in page and "Wait 15 minutes" in page
    assert 'name="password"' in page and 'value="ana"' in page  # still the login form, not a bare error
    assert 'name="csrfmiddlewaretoken"' in page

    right = attempt(client, PASSWORD)
    assert right.status_code == 429
    assert client.get(reverse("inbox:home")).status_code == 302  # not logged in


def test_the_lockout_is_per_username_and_address(ana, settings):
    attacker = client_from("203.0.113.7")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(attacker, "wrong")
    assert attempt(attacker, PASSWORD).status_code == 429

    # Ana at her desk is not locked out by someone guessing elsewhere.
    desk = client_from("198.51.100.20")
    assert attempt(desk, PASSWORD)["Location"] == "/inbox/"
    # Another username from the attacker's address has its own count.
    UserFactory(username="ben")
    assert attempt(attacker, PASSWORD, username="ben").status_code == 302


def test_the_lockout_ends_after_the_cool_off(ana, settings):
    client = client_from("203.0.113.7")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "wrong")
    assert attempt(client, PASSWORD).status_code == 429
    earlier = AccessAttempt.objects.get().attempt_time - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    AccessAttempt.objects.update(attempt_time=earlier)
    assert attempt(client, PASSWORD).status_code == 302


def test_a_successful_log_in_resets_the_count(ana, settings):
    client = client_from("203.0.113.7")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, "wrong")
    assert attempt(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, "wrong").status_code == 200


def test_the_admin_log_in_counts_and_shows_the_same_page(ana, settings):
    UserFactory(username="root", is_staff=True, is_superuser=True)
    client = client_from("203.0.113.7")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, "wrong", username="root", path=reverse("admin:login")).status_code == 200
    locked = attempt(client, "wrong", username="root", path=reverse("admin:login"))
    assert locked.status_code == 429 and b"Too many failed log-ins" in locked.content


async def test_under_asgi_the_lockout_page_is_the_same(db, settings):
    """daphne runs the middleware chain asynchronously: axes' async path, same answer."""
    client = AsyncClient(REMOTE_ADDR="203.0.113.9")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = await client.post(reverse("login"), {"username": "tess", "password": "wrong"})
        assert response.status_code == 200 and b"correct username and password" in response.content
    locked = await client.post(reverse("login"), {"username": "tess", "password": "wrong"})
    assert locked.status_code == 429 and b"Too many failed log-ins" in locked.content


def test_the_test_clients_login_without_a_request_still_works(ana):
    # authenticate() without a request (a shell, Client.login) is no browser: axes stays out of it.
    assert Client().login(username="ana", password=PASSWORD)


SQLITE_SCRIPT = textwrap.dedent("""
    from django.contrib.auth import get_user_model
    from django.test import Client
    get_user_model().objects.create_user("tess", password="right password 42")
    client = Client(HTTP_HOST="localhost", REMOTE_ADDR="203.0.113.7")
    codes = [client.post("/accounts/login/", {"username": "tess", "password": "wrong"}).status_code for _ in range(5)]
    codes.append(client.post("/accounts/login/", {"username": "tess", "password": "right password 42"}).status_code)
    print(codes)
""")


def test_the_lockout_works_on_the_embedded_sqlite_default(tmp_path):
    env = {key: value for key, value in os.environ.items()
           if key not in {"DATABASE_URL", "REDIS_URL", "CHANNEL_LAYER_PREFIX", "Q_CLUSTER_NAME"}
           and not key.startswith("LOGIN_")}
    env.update({"DJANGO_SETTINGS_MODULE": "handoff_site.settings", "HANDOFF_DATA_DIR": str(tmp_path),
                "DEBUG": "1", "LOG_LEVEL": "WARNING"})
    manage = [sys.executable, str(django_settings.BASE_DIR / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True, timeout=120)
    result = subprocess.run([*manage, "shell", "-c", SQLITE_SCRIPT], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[200, 200, 200, 200, 429, 429]"
