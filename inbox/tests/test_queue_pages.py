"""A long queue arrives a page at a time: the snapshot carries every live chat and the
longest-waiting sessions, says how many wait in all, and the `queue` action pages on."""

import pytest

from conversations.tests.busy_org import BusyOrg
from inbox import selectors, ws_actions
from inbox.selectors import inbox_snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(selectors, "QUEUE_PAGE", 3)


def test_the_snapshot_holds_live_chats_and_the_first_page_of_the_queue(org, ana, small_pages):
    busy = BusyOrg(org)
    busy.grow_to(5)  # 5 waiting, 5 live

    snapshot = inbox_snapshot(user=ana, organization=org)

    statuses = [session["status"] for session in snapshot["sessions"]]
    assert statuses.count("active") == 5 and statuses.count("queued") == 3
    waiting = [session for session in snapshot["sessions"] if session["status"] == "queued"]
    # Longest waiting first: busy rows are queued a minute earlier at each step.
    assert [s["queued_at"] for s in waiting] == sorted(s["queued_at"] for s in waiting)
    assert snapshot["queue"] == {"waiting": 5, "next": {"queued_at": waiting[-1]["queued_at"],
                                                          "id": waiting[-1]["id"]}}


def test_the_queue_action_pages_on_and_filters(org, ana, small_pages):
    busy = BusyOrg(org)
    busy.grow_to(5)
    socket = ws_actions.Socket(org, "tests.queue")
    first = inbox_snapshot(user=ana, organization=org)["queue"]["next"]

    rest = ws_actions.queue(ana, {"after_queued_at": first["queued_at"], "after_id": first["id"]}, socket)

    assert len(rest["sessions"]) == 2 and rest["next"] is None and rest["waiting"] == 5
    telegram = ws_actions.queue(ana, {"channel": "telegram"}, socket)
    assert {s["channel"] for s in telegram["sessions"]} == {"telegram"}
    assert telegram["waiting"] == len(telegram["sessions"]) == 2  # steps 0 and 3 are on Telegram
