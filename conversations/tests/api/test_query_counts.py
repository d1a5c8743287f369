"""Every /api/v1/ list costs the same number of SQL queries with 2 rows of everything as with
30: no query per conversation, session, message or teammate (bench/perf/data_scale.py times
the same lists with 100,000 conversations and 1,000,000 messages)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations.tests.api.conftest import client_for
from conversations.tests.busy_org import BusyOrg
from orgs.models import ApiKeyRole
from orgs.services import api_key_create

pytestmark = pytest.mark.django_db

LISTS = {
    "conversations": lambda busy: "/api/v1/conversations/",
    "conversations waiting": lambda busy: "/api/v1/conversations/?status=queued",
    "conversations live": lambda busy: "/api/v1/conversations/?status=active",
    "conversations with a human": lambda busy: "/api/v1/conversations/?status=human",
    "conversations on telegram": lambda busy: "/api/v1/conversations/?channel=telegram",
    "conversations of an agent": lambda busy: f"/api/v1/conversations/?agent={busy.chat.agent_id}",
    "conversations updated since": lambda busy: "/api/v1/conversations/?updated_since=2000-01-01T00:00:00Z",
    "a conversation": lambda busy: f"/api/v1/conversations/{busy.chat.pk}/",
    "messages of a conversation": lambda busy: f"/api/v1/conversations/{busy.chat.pk}/messages/",
    "handoff queue": lambda busy: "/api/v1/handoffs/",
    "teammates": lambda busy: "/api/v1/teammates/",
}


def queries_of(api, path: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(path)
    assert response.status_code == 200, response.content
    return [query["sql"] for query in captured]


@pytest.mark.parametrize("listing", LISTS)
def test_an_api_list_costs_the_same_queries_with_2_and_30_rows(listing, organization, settings):
    settings.API_RATE_LIMIT = "10000/min"
    busy = BusyOrg(organization)
    api = client_for(api_key_create(organization=organization, name="Dashboard", role=ApiKeyRole.READ_ONLY)[1])
    busy.grow_to(2)
    path = LISTS[listing](busy)
    api.get(path)  # the key's last_used_at is written once a minute, not on every call
    with_2 = queries_of(api, path)
    busy.grow_to(30)
    with_30 = queries_of(api, path)
    assert len(with_30) == len(with_2), "\n".join(with_30)


def test_the_second_page_costs_what_the_first_did(organization, settings):
    settings.API_RATE_LIMIT = "10000/min"
    busy = BusyOrg(organization)
    api = client_for(api_key_create(organization=organization, name="Dashboard", role=ApiKeyRole.READ_ONLY)[1])
    busy.grow_to(30)
    for path in ("/api/v1/conversations/?limit=10", "/api/v1/handoffs/?limit=10",
                 f"/api/v1/conversations/{busy.chat.pk}/messages/?limit=10"):
        first = api.get(path).json()
        assert len(first["results"]) == 10 and first["next"]
        assert len(queries_of(api, first["next"])) == len(queries_of(api, path))
