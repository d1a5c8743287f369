"""A long queue in the inbox: the page counts everyone waiting, shows the longest-waiting
first page, and "Show more waiting" brings in the rest."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from channels_gateway.models import ChannelConnection, Platform
from conversations.tests.factories import ConversationFactory, HandoffSessionFactory
from inbox.selectors import QUEUE_PAGE
from tests.browser.live import open_inbox_as, seeded_demo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

BEYOND_THE_FIRST_PAGE = 7


WAITING = QUEUE_PAGE + BEYOND_THE_FIRST_PAGE


@pytest.fixture
def long_queue(transactional_db):
    """The demo org with more waiting than one page, "Waiting 000" the longest (made before
    the browser starts: the ORM refuses to run beside Playwright's event loop)."""
    demo = seeded_demo()
    widget = ChannelConnection.objects.get(organization_id=demo["organization"]["id"], platform=Platform.WIDGET)
    started = timezone.now() - timedelta(hours=2)
    for index in range(WAITING):
        conversation = ConversationFactory(contact__connection=widget, contact__display_name=f"Waiting {index:03d}",
                                           mode="human")
        HandoffSessionFactory(conversation=conversation, queued_at=started + timedelta(seconds=index))
    return demo


def test_more_waiting_than_a_page_are_counted_and_shown_on_demand(long_queue, running_web, browser_page):
    waiting = WAITING
    ana = open_inbox_as(browser_page(), running_web.url, long_queue, "ana")

    items = ana.get_by_test_id("queue-waiting").get_by_test_id("session-item")
    expect(items).to_have_count(QUEUE_PAGE)
    expect(items.first).to_contain_text("Waiting 000")  # longest waiting first
    expect(ana.locator('[data-count="waiting"]')).to_have_text(str(waiting))
    more = ana.get_by_test_id("queue-more")
    expect(more).to_have_text(f"Show more waiting ({BEYOND_THE_FIRST_PAGE} more)")

    more.click()

    expect(items).to_have_count(waiting)
    expect(items.last).to_contain_text(f"Waiting {waiting - 1:03d}")
    expect(more).to_be_hidden()
    expect(ana.locator('[data-count="waiting"]')).to_have_text(str(waiting))
