"""The 403 answers a store gives a principal that lacks a permission, as each cloud words them,
per store URI scheme (`DENIALS`): what the permission gate (`sandbox/gate.py`) sends instead of
forwarding a refused request, so clients fail as they would against the cloud.

- Google Cloud Storage: the JSON API's error object (`error.code`, `error.message`,
  `error.errors[].reason = forbidden`) with the wording of its IAM denials ("<principal> does not
  have storage.buckets.get access to the Google Cloud Storage bucket. Permission
  'storage.buckets.get' denied on resource (or it may not exist).", quoted in
  triton-inference-server/server#2253 and ansible-collections/google.cloud#575); the XML API
  (paths outside the JSON API's roots) answers `<Error><Code>AccessDenied</Code>` with the same
  sentence in `<Details>`.
- Azure Blob Storage: `AuthorizationPermissionMismatch` ("This request is not authorized to
  perform this operation using this permission.") in the `x-ms-error-code` header and, except
  for HEAD, an XML `<Error>` body with the request id and time
  (https://learn.microsoft.com/rest/api/storageservices/blob-service-error-codes)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import escape

from components.catalog.store_permissions import RequestPermission

# The GCS JSON API's roots (https://cloud.google.com/storage/docs/json_api): any other path is
# the XML API's /{bucket}/{object}.
GCS_JSON_ROOTS = ("/storage/v1/", "/upload/storage/v1/", "/download/storage/v1/", "/batch/")
GCS_RESOURCES = {
    "bucket": "the Google Cloud Storage bucket",
    "object": "the Google Cloud Storage object",
    "project": "the Google Cloud project",
}
AZURE_DENIED = "This request is not authorized to perform this operation using this permission."


@dataclass(frozen=True)
class Denial:
    """A refusal as the cloud sends it: headers and body (empty for HEAD)."""

    headers: dict[str, str]
    body: bytes
    status: int = 403


@dataclass(frozen=True)
class Refused:
    """What was refused: the request and the permission it needed (None: no documented
    operation maps to it)."""

    principal: str
    method: str
    path: str
    needed: RequestPermission | None
    request_headers: dict[str, str]


def gcs_message(refused: Refused) -> str:
    """The sentence GCS's IAM check answers with."""
    if refused.needed is None:
        return (
            f"{refused.principal} does not have access to {refused.method} {refused.path}: "
            "no documented Cloud Storage permission maps to this request (sandbox gate)."
        )
    permission = refused.needed.permission
    on = GCS_RESOURCES.get(refused.needed.resource, "the Google Cloud Storage resource")
    return (
        f"{refused.principal} does not have {permission} access to {on}. "
        f"Permission '{permission}' denied on resource (or it may not exist)."
    )


def gcs_denial(refused: Refused) -> Denial:
    """The JSON API's 403 error object, or the XML API's AccessDenied document."""
    message = gcs_message(refused)
    if refused.path.startswith(GCS_JSON_ROOTS):
        error = {"code": 403, "message": message, "errors": [_gcs_error(message)]}
        return _denial(
            refused, "application/json; charset=UTF-8", json.dumps({"error": error}).encode()
        )
    xml = (
        "<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
        f"<Message>Access denied.</Message><Details>{escape(message)}</Details></Error>"
    )
    return _denial(refused, "application/xml; charset=UTF-8", xml.encode())


def _gcs_error(message: str) -> dict[str, str]:
    return {"message": message, "domain": "global", "reason": "forbidden"}


def azure_denial(refused: Refused) -> Denial:
    """Azure Blob Storage's AuthorizationPermissionMismatch."""
    request_id = str(uuid.uuid4())
    now = dt.datetime.now(dt.UTC)
    time = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond:06d}0Z"
    xml = (
        '<?xml version="1.0" encoding="utf-8"?><Error>'
        "<Code>AuthorizationPermissionMismatch</Code>"
        f"<Message>{AZURE_DENIED}\nRequestId:{request_id}\nTime:{time}</Message></Error>"
    )
    denial = _denial(refused, "application/xml", xml.encode())
    denial.headers.update(
        {
            "x-ms-error-code": "AuthorizationPermissionMismatch",
            "x-ms-request-id": request_id,
            "x-ms-version": refused.request_headers.get("x-ms-version", "2021-12-02"),
        }
    )
    return denial


def _denial(refused: Refused, content_type: str, body: bytes) -> Denial:
    if refused.method == "HEAD":
        return Denial({"Content-Length": "0"}, b"")
    return Denial({"Content-Type": content_type, "Content-Length": str(len(body))}, body)


# The refusal of each store URI scheme the gate stands in front of.
DENIALS: dict[str, Callable[[Refused], Denial]] = {"gs": gcs_denial, "as": azure_denial}
