"""The API's JSON parser: DRF's, with the limits a hostile body must not get past.

DRF reads the request stream itself, which skips Django's `DATA_UPLOAD_MAX_MEMORY_SIZE`
check, and only turns a ValueError into a parse error: a body nested deeper than the
parser follows raised RecursionError, a 500. Here an oversized body is Django's
`RequestDataTooBig` (a 413 in `errors.api_exception_handler`) and a too-deep one a 400.
"""

import io

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class LimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        if request is not None:
            stream = io.BytesIO(request._request.body)  # raises RequestDataTooBig past the limit
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
