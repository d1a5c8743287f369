from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from channels_gateway.models import ChannelConnection, Platform
from handoff_site.errors import NotFoundError
from orgs.selectors import memberships_of, organization_for_member

SESSION_ORGANIZATION_KEY = "organization_id"


def home(request):
    return redirect("inbox:home" if request.user.is_authenticated else "demo")


@login_required
def inbox(request):
    try:
        organization = organization_for_member(
            user=request.user, organization_id=request.session.get(SESSION_ORGANIZATION_KEY)
        )
    except NotFoundError:
        request.session.pop(SESSION_ORGANIZATION_KEY, None)
        if not memberships_of(request.user).exists():
            return render(request, "inbox/no_organization.html", status=403)
        return redirect("inbox:home")
    request.session[SESSION_ORGANIZATION_KEY] = organization.pk
    return render(
        request,
        "inbox/inbox.html",
        {"organization": organization, "memberships": memberships_of(request.user).order_by("organization__name")},
    )


@login_required
@require_POST
def switch_organization(request, organization_id: int):
    try:
        organization = organization_for_member(user=request.user, organization_id=organization_id)
    except NotFoundError:
        raise Http404 from None
    request.session[SESSION_ORGANIZATION_KEY] = organization.pk
    return redirect("inbox:home")


def demo(request):
    """The newcomer's page: be the end user in the widget here, the teammate in the inbox."""
    widget = (
        ChannelConnection.objects.filter(platform=Platform.WIDGET, is_active=True, config__demo=True)
        .select_related("agent")
        .order_by("pk")
        .first()
    )
    return render(request, "demo.html", {"widget": widget})


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})
