"""What the inbox tells teammates outside the page: the reminder email."""

from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse

from conversations.models import HandoffSession


def email_waiting_reminder(*, session: HandoffSession, recipients: list[str], now: datetime) -> None:
    context = {
        "session": session,
        "contact": session.conversation.contact,
        "agent": session.conversation.agent,
        "channel": session.conversation.connection.get_platform_display(),
        "waiting_minutes": max(1, int((now - session.queued_at).total_seconds() // 60)),
        "inbox_url": f"{settings.SITE_URL}{reverse('inbox:home')}#session-{session.pk}",
        "organization": session.organization,
    }
    subject = f"[{session.organization.name}] {context['contact']} has been waiting {context['waiting_minutes']} min"
    text = render_to_string("email/waiting_reminder.txt", context)
    html = render_to_string("email/waiting_reminder.html", context)
    # One message per teammate: no one sees the others' addresses.
    messages = []
    for address in recipients:
        message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [address])
        message.attach_alternative(html, "text/html")
        messages.append(message)
    get_connection(fail_silently=False).send_messages(messages)
