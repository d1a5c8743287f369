"""Security headers on the pages a browser opens: CSP, framing, referrer, sniffing, HSTS only over TLS."""

import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from orgs.roles import Role
from orgs.tests.factories import OrganizationFactory, UserFactory, member

pytestmark = pytest.mark.django_db


def csp_directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


@pytest.fixture
def pages(client):
    """Every kind of HTML page: signed out, the inbox, the admin, the API docs, the demo."""
    superuser = UserFactory(is_staff=True, is_superuser=True)
    teammate = member(OrganizationFactory(), Role.AGENT)

    def fetch(path, user=None):
        if user is not None:
            client.force_login(user)
        response = client.get(path)
        client.logout()
        return response

    return {
        "login": fetch(reverse("login")),
        "demo": fetch(reverse("demo")),
        "inbox": fetch(reverse("inbox:home"), teammate),
        "admin": fetch(reverse("admin:index"), superuser),
        "api docs": fetch(reverse("api:docs")),
        "widget.js": fetch("/widget.js"),
    }


def test_every_page_sends_a_script_tight_csp(pages):
    for name, response in pages.items():
        assert response.status_code == 200, name
        directives = csp_directives(response)
        # No inline script, no eval, no plugin, no <base> hijack, forms only to us.
        assert directives["script-src"] == ["'self'"], name
        assert directives["default-src"] == ["'self'"], name
        assert directives["object-src"] == ["'none'"], name
        assert directives["base-uri"] == ["'none'"], name
        assert directives["form-action"] == ["'self'"], name
        assert directives["connect-src"] == ["'self'"], name


def test_no_page_can_be_framed(pages):
    # The widget is a script and a socket on the customer's page, never a framed page of ours.
    for name, response in pages.items():
        assert csp_directives(response)["frame-ancestors"] == ["'none'"], name
        assert response["X-Frame-Options"] == "DENY", name


def test_referrer_sniffing_and_opener_headers(pages):
    for name, response in pages.items():
        assert response["Referrer-Policy"] == "same-origin", name
        assert response["X-Content-Type-Options"] == "nosniff", name
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", name


def test_no_template_has_an_inline_script_or_handler():
    """The CSP allows no inline script; this keeps a new template from relying on one."""
    offenders = []
    for folder in [django_settings.BASE_DIR / "templates"]:
        for path in folder.rglob("*.html"):
            text = path.read_text()
            for line_no, line in enumerate(text.splitlines(), 1):
                lowered = line.lower()
                if ("<script" in lowered and "src=" not in lowered) or " onclick=" in lowered \
                        or " onload=" in lowered or " onerror=" in lowered or "javascript:" in lowered:
                    offenders.append(f"{path.relative_to(django_settings.BASE_DIR)}:{line_no}")
    assert offenders == []


def test_the_api_docs_start_up_script_is_a_file_not_inline(client):
    page = client.get(reverse("api:docs")).content.decode()
    assert "<script>" not in page
    script = client.get(reverse("api:docs") + "?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content


def test_hsts_only_on_https_responses(client, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    assert "Strict-Transport-Security" not in client.get(reverse("login"))
    secure = client.get(reverse("login"), secure=True)
    assert secure["Strict-Transport-Security"] == "max-age=31536000"


def test_hsts_behind_a_tls_proxy_only_when_its_header_is_trusted(client, settings):
    settings.SECURE_HSTS_SECONDS = 600
    forwarded = {"HTTP_X_FORWARDED_PROTO": "https"}
    settings.SECURE_PROXY_SSL_HEADER = None
    assert "Strict-Transport-Security" not in client.get(reverse("login"), **forwarded)
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert client.get(reverse("login"), **forwarded)["Strict-Transport-Security"] == "max-age=600"


def _production_settings(**env) -> dict:
    """The settings module as a fresh process reads them from this environment."""
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({k: getattr(s, k, None) for k in ['SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', "
        "'SECURE_HSTS_PRELOAD', 'SECURE_SSL_REDIRECT', 'SECURE_PROXY_SSL_HEADER', 'AXES_FAILURE_LIMIT']} "
        "| {'lockout_minutes': s.AXES_COOLOFF_TIME.total_seconds() / 60, "
        "'report_uri': s.CONTENT_SECURITY_POLICY['DIRECTIVES'].get('report-uri')}))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "LOGIN_", "CSP_", "TRUST_"))}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=django_settings.BASE_DIR, capture_output=True, text=True, check=True,
        env={**base, "DJANGO_SETTINGS_MODULE": "handoff_site.settings", "SECRET_KEY": "x" * 50,
             "DATABASE_URL": "postgres://u@127.0.0.1:5432/unused", "LOG_LEVEL": "WARNING", **env},
    )
    import json

    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_security_settings_come_from_the_environment():
    plain = _production_settings(SITE_URL="http://handoff.internal")
    assert plain["SECURE_HSTS_SECONDS"] == 0 and plain["SECURE_PROXY_SSL_HEADER"] is None
    assert plain["AXES_FAILURE_LIMIT"] == 5 and plain["lockout_minutes"] == 15 and plain["report_uri"] is None

    tls = _production_settings(
        SITE_URL="https://handoff.example.com", TRUST_X_FORWARDED_PROTO="1", SECURE_HSTS_INCLUDE_SUBDOMAINS="1",
        SECURE_SSL_REDIRECT="1", LOGIN_FAILURE_LIMIT="10", LOGIN_LOCKOUT_MINUTES="30",
        CSP_REPORT_URI="https://csp.example.com/report",
    )
    assert tls["SECURE_HSTS_SECONDS"] == 31536000 and tls["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert tls["SECURE_HSTS_PRELOAD"] is False and tls["SECURE_SSL_REDIRECT"] is True
    assert tls["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert tls["AXES_FAILURE_LIMIT"] == 10 and tls["lockout_minutes"] == 30
    assert tls["report_uri"] == ["https://csp.example.com/report"]
    assert _production_settings(SITE_URL="https://h.example.com", SECURE_HSTS_SECONDS="0")["SECURE_HSTS_SECONDS"] == 0


def test_the_health_probe_is_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get(reverse("login")).status_code == 301
    assert client.get(reverse("healthz")).status_code == 200
