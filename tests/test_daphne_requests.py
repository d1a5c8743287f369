"""The web process (daphne, as the Procfile runs it) hands Django every POST as it came:
Twisted parses no form body of its own (handoff_site/daphne_requests.py)."""

import requests

from tests.browser.live import running_web  # noqa: F401


def test_a_multipart_post_twisted_could_not_parse_reaches_django(running_web):  # noqa: F811
    # Twisted's own form parsing would answer this with its HTML 400 and drop the connection.
    response = requests.post(f"{running_web.url}/webhooks/telegram/no-such-key/", data=b'{"update_id": 1}',
                             headers={"Content-Type": "multipart/form-data; boundary=nothing-here"}, timeout=10)

    assert response.status_code == 404
    assert response.json() == {"error": "unknown_connection"}


def test_a_form_post_reaches_django_with_its_fields(running_web):  # noqa: F811
    session = requests.Session()
    session.get(f"{running_web.url}/accounts/login/", timeout=10)
    response = session.post(f"{running_web.url}/accounts/login/", timeout=10, allow_redirects=False,
                            data={"username": "nobody", "password": "wrong",
                                  "csrfmiddlewaretoken": session.cookies["csrftoken"]},
                            headers={"Referer": f"{running_web.url}/accounts/login/"})

    # Django read the fields: the form is shown again with its error, the username kept.
    assert response.status_code == 200
    assert 'value="nobody"' in response.text
