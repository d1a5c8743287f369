"""Failed log-ins are counted and locked out by django-axes (settings: AXES_*).

Here: the backend that lets axes skip `authenticate()` calls made without a request (a shell,
the test client's `login()`; nothing a browser can reach), and the lockout answer, which is
the login page again with a plain message and 429, not axes' bare 403 page.
"""

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.template.response import TemplateResponse
from django.urls import reverse

from axes.backends import AxesStandaloneBackend


class LoginAttemptsBackend(AxesStandaloneBackend):
    """First in AUTHENTICATION_BACKENDS: refuses a locked-out username+address before any
    password is checked, and authenticates nobody itself."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def lockout_minutes() -> int:
    return max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE. Axes' async middleware passes the credentials as the second
    argument, so nothing here relies on the extra arguments."""
    minutes = lockout_minutes()
    username = request.POST.get("username", "") if request.method == "POST" else ""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not next_url and request.path.startswith(reverse("admin:index")):
        next_url = reverse("admin:index")
    response = TemplateResponse(
        request,
        "registration/login.html",
        {
            "form": AuthenticationForm(request, initial={"username": username}),
            "next": next_url,
            "lockout_message": (
                f"Too many failed log-ins for this username from your network. "
                f"Wait {minutes} minute{'s' if minutes != 1 else ''} and try again, "
                f"or ask an admin of your organization to set a new password."
            ),
        },
        status=429,
        headers={"Retry-After": str(minutes * 60)},
    )
    return response.render()
