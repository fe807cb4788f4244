"""Whether an exception is a store refusing credentials, read from the structured error the
store's SDK raised (the HTTP status, the error code, the exception type) anywhere in the chain
of exceptions it was raised from, never from digits in a message: an endpoint's port
(`127.0.0.1:4031`) or a log's timestamp (`I1130 10:40:31`) is not a refusal.

Duck-typed, so that chaos/ imports no cloud SDK:
- botocore `ClientError.response` = {"Error": {"Code"}, "ResponseMetadata": {"HTTPStatusCode"}}
  (https://docs.aws.amazon.com/boto3/latest/guide/error-handling.html);
- azure-core `HttpResponseError.status_code`, `ClientAuthenticationError`
  (https://learn.microsoft.com/python/api/azure-core/azure.core.exceptions);
- google-api-core `GoogleAPICallError.code` (the HTTP status: `Forbidden` 403,
  `Unauthorized` 401), google-auth `RefreshError`/`DefaultCredentialsError`;
- urllib's `HTTPError.code`, requests' `HTTPError.response.status_code`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

__all__ = ["auth_refusal"]

AUTH_STATUS = frozenset({401, 403})
# S3/STS error codes for a key that is unknown, deleted, wrong, expired or denied.
AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
    }
)
# Exception types that mean "no usable credentials" whatever their message.
AUTH_TYPES = frozenset(
    {
        "ClientAuthenticationError",  # azure-core
        "CredentialRetrievalError",  # botocore
        "DefaultCredentialsError",  # google-auth
        "NoCredentialsError",  # botocore
        "PartialCredentialsError",  # botocore
        "RefreshError",  # google-auth
    }
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and those it was raised from or during, each once."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _status(exc: BaseException) -> int | None:
    """The HTTP status an SDK's exception carries, if any."""
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):  # botocore
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        return status if isinstance(status, int) else None
    for value in (
        getattr(exc, "status_code", None),  # azure-core
        getattr(response, "status_code", None),  # requests
        getattr(exc, "code", None),  # google-api-core, urllib
    ):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        code = (response.get("Error") or {}).get("Code")
        return str(code) if code else None
    return None


def auth_refusal(exc: BaseException) -> str | None:
    """How `exc` (or an exception in its chain) says the credentials were refused, e.g.
    `HTTP 403 (InvalidAccessKeyId)` or `NoCredentialsError`; None when it is no refusal."""
    for item in _chain(exc):
        status, code = _status(item), _code(item)
        if code in AUTH_CODES or status in AUTH_STATUS:
            return f"HTTP {status} ({code})" if code else f"HTTP {status}"
        names = {kind.__name__ for kind in type(item).__mro__}
        if names & AUTH_TYPES:
            return sorted(names & AUTH_TYPES)[0]
    return None
