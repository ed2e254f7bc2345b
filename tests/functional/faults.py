"""Inject AWS faults at botocore's send step, so botocore's real retry logic meets them.

with inject("iam:ListMFADevices", "throttling", times=2) as seen: ...
"""

from contextlib import contextmanager

import boto3
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from botocore.handlers import BUILTIN_HANDLERS

SERVICE_IDS = {"iam": "iam", "sts": "sts", "cloudtrail": "cloudtrail", "config": "config-service"}

# fault -> (HTTP status, error code for query-protocol services, for JSON-protocol services)
ERRORS = {
    "throttling": (400, "Throttling", "ThrottlingException"),
    "access_denied": (403, "AccessDenied", "AccessDeniedException"),
    "server_error": (500, "ServiceFailure", "InternalFailure"),
    "no_such_entity": (404, "NoSuchEntity", "NoSuchEntityException"),
}
NETWORK = {"connection_error": EndpointConnectionError, "read_timeout": ReadTimeoutError}
FAULTS = tuple(ERRORS) + tuple(NETWORK)


class _Body:
    def __init__(self, payload: bytes) -> None:
        self._payload = payload

    def stream(self, **_):
        yield self._payload


def _error_response(request, fault):
    status, query_code, json_code = ERRORS[fault]
    if request.headers.get("X-Amz-Target"):
        body = f'{{"__type": "{json_code}", "message": "injected {fault}"}}'.encode()
        return AWSResponse(request.url, status, {"Content-Type": "application/x-amz-json-1.1"}, _Body(body))
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{query_code}</Code><Message>injected {fault}</Message>"
        "</Error><RequestId>injected</RequestId></ErrorResponse>"
    ).encode()
    return AWSResponse(request.url, status, {"Content-Type": "text/xml"}, _Body(body))


@contextmanager
def inject(action, fault, times, when=lambda request: True):
    """The next ``times`` sends of ``action`` (e.g. ``"iam:GetLoginProfile"``) for which ``when`` holds meet ``fault``."""
    prefix, operation = action.split(":")
    seen = {"calls": 0, "faults": 0}

    def respond(request, **_):
        seen["calls"] += 1
        if seen["faults"] >= times or not when(request):
            return None
        seen["faults"] += 1
        if fault in NETWORK:
            raise NETWORK[fault](endpoint_url=request.url)
        return _error_response(request, fault)

    handler = (f"before-send.{SERVICE_IDS[prefix]}.{operation}", respond)
    BUILTIN_HANDLERS.insert(0, handler)
    # boto3's default session (rdklib's STS calls use it) may predate the handler.
    default_session = boto3.DEFAULT_SESSION
    if default_session is not None:
        default_session.events.register_first(*handler)
    try:
        yield seen
    finally:
        BUILTIN_HANDLERS.remove(handler)
        if default_session is not None:
            default_session.events.unregister(*handler)


def iam_error(operation, code, times, status=400):
    """Shorthand kept for the single-fault tests: an IAM error by its code."""
    fault = {"Throttling": "throttling", "AccessDenied": "access_denied", "ServiceFailure": "server_error"}[code]
    return inject(f"iam:{operation}", fault, times)
