"""Daphne's HTTP requests, without Twisted's parsing of form bodies.

Daphne hands the application the raw body. Twisted's `Request.requestReceived` also parses
every POST that has a Content-Type into `request.args`, which daphne never reads: it builds an
`email.message.EmailMessage` to read the Content-Type of every webhook (5% of the web
process's py-spy samples at 550 webhooks/s during bench/perf), and it parses a multipart body a
second time in memory, answering one it cannot parse with its own HTML 400 and a dropped
connection before Django sees the request. Django parses forms itself, when a view asks.
"""

from daphne import http_protocol


class WebRequestWithoutFormParsing(http_protocol.WebRequest):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, parsePOSTFormSubmission=False, **kwargs)


def install() -> None:
    """Daphne's HTTP factory builds each request from the module's `WebRequest`, read when a
    connection opens: replaced here before the server accepts any."""
    http_protocol.WebRequest = WebRequestWithoutFormParsing
