"""CSRF: every state-changing form of the site refuses a POST without the token.

Walks the whole URL configuration, so a route added later is covered (or must be listed here as
exempt on purpose): the platform webhooks are csrf_exempt and verified by signature instead, and
the REST API authenticates API keys only (no cookie, so nothing a foreign page could ride on).
"""

import re

import pytest
from django.contrib import admin
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.authentication import SessionAuthentication
from rest_framework.views import APIView

from channels_gateway.tests.factories import ChannelConnectionFactory
from inbox.models import CannedReply
from orgs.roles import Role
from orgs.services import api_key_create
from orgs.tests.factories import OrganizationFactory, UserFactory, member

pytestmark = pytest.mark.django_db

CSRF_EXEMPT_BY_DESIGN = re.compile(r"^(webhooks/|api/v1/)")


def all_routes():
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern

    return list(walk(get_resolver().url_patterns))


def sample_path(route: str, pattern: URLPattern, object_ids: dict[str, str]) -> str | None:
    if pattern.callback.__name__ == "catch_all_view":
        return "/admin/no-such-page/"
    if route.startswith("admin/^"):  # the per-app index, a regex of the installed app labels
        return reverse("admin:app_list", kwargs={"app_label": "orgs"})
    model_prefix = "/".join(route.split("/")[:3]) + "/"
    samples = {"object_id": object_ids.get(model_prefix, "1"), "id": object_ids.get(model_prefix, "1"),
               "content_type_id": "1", "organization_id": "1", "uidb64": "MQ", "token": "set-password",
               "segment": "telegram", "key": "k", "conversation_id": "1", "session_id": "1"}
    path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda match: samples[match.group(1)], route)
    assert resolve(path).func == pattern.callback, path
    return path


@pytest.fixture
def site(organization, agent, ana):
    """An installation with a row of each kind the org admins manage, and a superuser."""
    ChannelConnectionFactory(agent=agent)
    CannedReply.objects.create(organization=organization, title="Hello", text="Hi there")
    api_key_create(organization=organization, name="ci", role="agent", actor=None)
    superuser = UserFactory(is_staff=True, is_superuser=True)
    object_ids = {}
    for model, model_admin in admin.site._registry.items():
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            object_ids[f"admin/{model._meta.app_label}/{model._meta.model_name}/"] = str(first.pk)
    return superuser, object_ids


def test_only_webhooks_and_the_api_are_csrf_exempt():
    exempt = [route for route, pattern in all_routes() if getattr(pattern.callback, "csrf_exempt", False)]
    assert exempt and all(CSRF_EXEMPT_BY_DESIGN.match(route) for route in exempt), exempt


def test_every_other_url_refuses_a_post_without_the_token(site):
    superuser, object_ids = site
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)
    checked = []
    for route, pattern in all_routes():
        if CSRF_EXEMPT_BY_DESIGN.match(route):
            continue
        path = sample_path(route, pattern, object_ids)
        response = client.post(path, {"action": "delete_selected", "_selected_action": ["1"], "post": "yes"})
        assert response.status_code == 403 and b"CSRF verification failed" in response.content, path
        checked.append(path)
    # The forms that matter are among them.
    for path in ["/accounts/login/", "/accounts/logout/", "/inbox/org/1/", "/admin/logout/",
                 "/admin/password_change/", "/admin/orgs/membership/add/", "/admin/orgs/apikey/",
                 f"/admin/inbox/cannedreply/{object_ids['admin/inbox/cannedreply/']}/change/",
                 f"/admin/inbox/cannedreply/{object_ids['admin/inbox/cannedreply/']}/delete/",
                 f"/admin/channels_gateway/channelconnection/{object_ids['admin/channels_gateway/channelconnection/']}/change/"]:
        assert path in checked, path
    assert len(checked) > 100


def test_every_post_form_the_admin_and_the_inbox_render_carries_the_token(site):
    superuser, object_ids = site
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)
    first_org_member = member(OrganizationFactory(), Role.AGENT)
    member_of_two = member(OrganizationFactory(), Role.AGENT, username=first_org_member.username)
    forms_seen = 0
    for route, pattern in all_routes():
        if CSRF_EXEMPT_BY_DESIGN.match(route) or not route.startswith("admin/"):
            continue
        response = client.get(sample_path(route, pattern, object_ids))
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        for form in re.findall(r"<form\b[^>]*method=\"post\"[^>]*>.*?</form>", response.content.decode(), re.S | re.I):
            assert 'name="csrfmiddlewaretoken"' in form, route
            forms_seen += 1
    client.force_login(member_of_two)
    inbox_page = client.get(reverse("inbox:home"))
    assert inbox_page.status_code == 200, inbox_page
    inbox = inbox_page.content.decode()
    inbox_forms = re.findall(r"<form\b[^>]*method=\"post\"[^>]*>.*?</form>", inbox, re.S | re.I)
    assert len(inbox_forms) >= 2 and all('name="csrfmiddlewaretoken"' in form for form in inbox_forms)
    assert forms_seen > 30


def test_with_the_token_the_same_forms_work(site, organization):
    """The refusals above are the CSRF check, not something else: the browser's way passes."""
    superuser, object_ids = site
    client = Client(enforce_csrf_checks=True)
    login_page = client.get(reverse("login"))
    token = login_page.cookies["csrftoken"].value
    assert client.post(reverse("login"), {"username": superuser.username, "password": "correct horse battery staple",
                                          "csrfmiddlewaretoken": token}).status_code == 302
    token = client.cookies["csrftoken"].value  # rotated on log-in
    canned = object_ids["admin/inbox/cannedreply/"]
    changed = client.post(f"/admin/inbox/cannedreply/{canned}/change/", {
        "organization": organization.pk, "title": "Hello again", "text": "Hi there", "csrfmiddlewaretoken": token})
    assert changed.status_code == 302 and CannedReply.objects.get(pk=canned).title == "Hello again"
    assert client.post(reverse("logout"), {"csrfmiddlewaretoken": token}).status_code == 302


def test_password_reset_confirm_needs_the_token(ana):
    client = Client(enforce_csrf_checks=True)
    link = reverse("password_reset_confirm", args=[urlsafe_base64_encode(force_bytes(ana.pk)),
                                                   default_token_generator.make_token(ana)])
    form_url = client.get(link)["Location"]
    page = client.get(form_url)
    assert page.status_code == 200 and b'name="csrfmiddlewaretoken"' in page.content
    refused = client.post(form_url, {"new_password1": "a new long passphrase 7", "new_password2": "a new long passphrase 7"})
    assert refused.status_code == 403
    ana.refresh_from_db()
    assert ana.check_password("correct horse battery staple")


def test_the_api_never_authenticates_by_session_cookie(ana, organization):
    """DRF exempts its views from Django's CSRF check and leaves it to SessionAuthentication;
    the API has none, so a teammate's cookie carries no authority there at all."""
    for _, pattern in all_routes():
        view_class = getattr(pattern.callback, "cls", None)
        if view_class is not None and issubclass(view_class, APIView) and pattern.callback.__module__ != "drf_spectacular.views":
            assert not any(issubclass(auth, SessionAuthentication) for auth in view_class.authentication_classes), view_class
    client = Client(enforce_csrf_checks=True)
    client.force_login(ana)
    response = client.post(reverse("api:handoff-accept", args=[1]), {"teammate_id": ana.pk}, content_type="application/json")
    assert response.status_code == 401
    assert client.get(reverse("api:handoff-list")).status_code == 401
