"""Make moto's IAM answer with an error a given number of times, at botocore's send step.

Because the error arrives as an HTTP response, botocore's real retry logic sees it.
"""

from contextlib import contextmanager

from botocore.awsrequest import AWSResponse
from botocore.handlers import BUILTIN_HANDLERS


class _Body:
    def __init__(self, payload: bytes) -> None:
        self._payload = payload

    def stream(self, **_):
        yield self._payload


@contextmanager
def iam_error(operation, code, times, status=400, message="injected by the test"):
    """The next ``times`` calls of IAM ``operation`` fail with ``code``; yields a call counter."""
    seen = {"calls": 0, "errors": 0}
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>test-request</RequestId></ErrorResponse>"
    ).encode()

    def respond(request, **_):
        seen["calls"] += 1
        if seen["errors"] < times:
            seen["errors"] += 1
            return AWSResponse(request.url, status, {"Content-Type": "text/xml"}, _Body(body))
        return None

    handler = (f"before-send.iam.{operation}", respond)
    BUILTIN_HANDLERS.insert(0, handler)
    try:
        yield seen
    finally:
        BUILTIN_HANDLERS.remove(handler)
