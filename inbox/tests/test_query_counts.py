"""What the inbox reads costs the same number of SQL queries with 2 rows of everything as
with 30: no query per session, message, teammate or reply (bench/perf/data_scale.py times
the same reads with 10,000 waiting sessions)."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from conversations.tests.busy_org import BusyOrg
from inbox import ws_actions
from inbox.selectors import inbox_snapshot, session_transcript

pytestmark = pytest.mark.django_db


class Inbox:
    """Ana's inbox on a growing org: each read as the page and the socket make it."""

    def __init__(self, org, ana):
        self.busy = BusyOrg(org)
        self.ana = ana
        self.socket = ws_actions.Socket(org, "tests.query-counts")
        self.browser = Client()
        self.browser.force_login(ana)

    def page(self):
        response = self.browser.get("/inbox/")
        assert response.status_code == 200

    def snapshot(self):
        snapshot = inbox_snapshot(user=self.ana, organization=self.busy.organization)
        assert len(snapshot["sessions"]) == 2 * self.busy.size  # waiting and live
        assert len(snapshot["teammates"]) == self.busy.size + 1

    def queue_filtered(self):
        assert ws_actions.queue(self.ana, {"channel": "telegram"}, self.socket)["waiting"] >= 1

    def queue_next_page(self):
        first = ws_actions.queue(self.ana, {}, self.socket)["sessions"][0]
        after = {"after_queued_at": first["queued_at"], "after_id": first["id"]}
        assert len(ws_actions.queue(self.ana, after, self.socket)["sessions"]) == self.busy.size - 1

    def history(self):
        assert len(ws_actions.history(self.ana, {}, self.socket)["sessions"]) == self.busy.size

    def history_search(self):
        assert ws_actions.history(self.ana, {"query": "parcel"}, self.socket)["sessions"]

    def history_filtered(self):
        ws_actions.history(self.ana, {"status": "resolved", "channel": "widget"}, self.socket)

    def transcript(self):
        session_id = self.busy.chat.handoff_sessions.get().pk
        transcript = session_transcript(user=self.ana, session_id=session_id)
        assert len(transcript["messages"]) == 4 + 5 * self.busy.size  # its own, the steps' and notes


READS = ["page", "snapshot", "queue_filtered", "queue_next_page", "history", "history_search",
         "history_filtered", "transcript"]


def queries_of(read) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        read()
    return [query["sql"] for query in captured]


@pytest.mark.parametrize("read", READS)
def test_an_inbox_read_costs_the_same_queries_with_2_and_30_rows(read, org, ana):
    inbox = Inbox(org, ana)
    inbox.busy.grow_to(2)
    getattr(inbox, read)()  # sessions, caches: what the first read of a tab pays once
    with_2 = queries_of(getattr(inbox, read))
    inbox.busy.grow_to(30)
    with_30 = queries_of(getattr(inbox, read))
    assert len(with_30) == len(with_2), "\n".join(with_30)
