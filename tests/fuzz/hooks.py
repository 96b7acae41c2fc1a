"""Schemathesis hooks for tests/fuzz/run.sh.

`positive_data_acceptance` is replaced by a version that knows what no schema can say:

- Some refusals depend on what exists, not on the request's shape: an inbox on a custom domain
  that is not verified yet (400 DOMAIN_NOT_VERIFIED), a reply in a thread of another inbox
  (400 THREAD_INBOX_MISMATCH), attachments that add up to more than 25 MB
  (400 ATTACHMENTS_TOO_LARGE), a send to an address on the inbox's block list
  (400 RECIPIENT_BLOCKED). The hosted API gives such refusals status 400, so this server does
  too.
- Some multipart form-field names do not reach the server as generated (see
  `multipart_names_lost_in_encoding`); `negative_data_rejection` is replaced for the same
  reason.
- Some rules join several values, or read a value's own language, which no schema can say: a
  search query's syntax (`q`: 400 with the position of the mistake, `q` the only field named), a
  label named both to add and to remove, `read` and `unread` added together, and more than 50
  labels on one message (which depends on the labels it has).
- Some refusals depend on the clock or on what a draft holds: a draft's `sendAt` must lie in the
  next 30 days (400 naming only `sendAt`), and sending or approving a draft needs a complete
  one (400 on `POST /drafts/{id}/send` and `/approve`, which take no body).
- `/mcp` takes JSON-RPC messages of the Model Context Protocol, whose shapes are the protocol's
  own schema, not restated in this document: the transport's refusal of a message that is not
  one (400), or of a client that does not accept its answer types (406), is expected there; the
  MCP client tests in tests/api/mcp.rs cover the protocol.
- Stateful tests follow links that schemathesis infers; one that takes a `null` field of a
  response (an inbox's `domainId` on the shared domain) puts `None` into a path. That request is
  not schema-valid data, whatever the fuzzer thinks.

Every other 4xx answer to schema-valid data is still a failure.
"""

import schemathesis
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

STATE_DEPENDENT = {
    "DOMAIN_NOT_VERIFIED",
    "THREAD_INBOX_MISMATCH",
    "ATTACHMENTS_TOO_LARGE",
    "RECIPIENT_BLOCKED",
}


def error_code(response):
    try:
        return response.json()["error"]["code"]
    except Exception:
        return None


LABEL_RULES = ("also in addLabels", "either read or unread", "carries at most")


def error_details(response):
    try:
        return response.json()["error"].get("details") or {}
    except Exception:
        return {}


def beyond_the_schema(case, response):
    """A 400 for a rule that joins values or parses a value's own syntax (see above)."""
    if response.status_code != 400:
        return False
    details = error_details(response)
    if "q" in (case.query or {}) and set(details) == {"q"}:
        return True
    if set(details) == {"sendAt"} and "/drafts" in case.operation.path:
        return True
    if case.operation.path in ("/drafts/{id}/send", "/drafts/{id}/approve"):
        return True
    if case.method.upper() == "PATCH" and set(details) <= {"addLabels", "removeLabels"}:
        messages = [m for ms in details.values() for m in ms]
        return bool(messages) and all(any(r in m for r in LABEL_RULES) for m in messages)
    return False


def multipart_names_lost_in_encoding(case):
    """An upload whose extra form-field names do not reach the server as generated: a name with
    a control character (schemathesis drops or mangles it when writing the part header, so a
    name the schema forbids arrives allowed) or one ending in a backslash (written as
    `name="a\\"`, as browsers do too, which actix-multipart reads as an escaped quote, so that
    the part has no readable Content-Disposition: a known limitation, see the README)."""
    if case.operation.path != "/attachments" or not isinstance(case.body, dict):
        return False
    return any(
        isinstance(name, str)
        and (name.endswith("\\") or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name))
        for name in case.body
    )


@schemathesis.check
def positive_data_acceptance_given_state(ctx, response, case):
    if response.status_code == 400 and error_code(response) in STATE_DEPENDENT:
        return None
    if response.status_code == 400 and multipart_names_lost_in_encoding(case):
        return None
    if beyond_the_schema(case, response):
        return None
    if case.operation.path == "/mcp" and response.status_code in (400, 406):
        return None
    if any(value is None for value in (case.path_parameters or {}).values()):
        return None
    return positive_data_acceptance(ctx, response, case)


@schemathesis.check
def negative_data_rejection_given_encoding(ctx, response, case):
    if multipart_names_lost_in_encoding(case):
        return None
    return negative_data_rejection(ctx, response, case)


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    """A wait for a message that may come holds its request for `timeout` seconds (default 30),
    longer than the fuzzer waits for an answer: valid timeouts become one second, in every
    phase. Invalid ones are left for the negative checks."""
    if not case.operation.path.endswith("/messages/wait"):
        return
    query = dict(case.query or {})
    timeout = query.get("timeout")
    if timeout is None or (str(timeout).isdigit() and 1 <= int(timeout) <= 60):
        query["timeout"] = 1
        case.query = query
