"""The API's error answers: one table from the domain's exceptions to HTTP statuses, and one
body, `{"detail": "...", "code": "..."}`, for every error the API gives.

Views let a service's exception through; the table decides what it answers, the same on
every endpoint. Each endpoint lists the statuses it gives in its OpenAPI responses, taken
from the same table (`answers(...)`).
"""

from dataclasses import dataclass
from functools import partial

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError

from api.schemas import Error
from bulk.services.jobs import JobActionRefused, NothingToDo, RetryLimitReached
from bulk.services.uploads import (
    NothingToSubmit,
    SubmitRefused,
    UploadExpired,
    UploadNotReady,
    UploadRateLimited,
)
from bulk.spreadsheets.reading import UploadRejected
from webhooks.services import DeliveryRefused, EndpointRefused


class BadMapping(ValueError):
    """The `mapping` sent is not a choice of columns; the message says why."""


class BadNeedBy(ValueError):
    """The `need_by` sent has no time zone or is not in the future."""


class BadOptions(ValueError):
    """The `options` sent are not speed/term options Momentum sells; the message says why."""


class URLTooLong(ValueError):
    """The request's URL (path and query) is longer than `MAX_URL_CHARS`."""


# Well under what the servers in front read (gunicorn's request line: 4,094 bytes), so an
# over-long URL that reaches the API answers its 414 in the API's own shape.
MAX_URL_CHARS = 2_048


@dataclass(frozen=True)
class Answer:
    status: int
    code: str
    # None: the exception's own message, written for the person who sent the request.
    detail: str | None = None


# An exception answers as the nearest of its classes listed here.
ANSWERS: dict[type[Exception], Answer] = {
    # Bad input.
    UploadRejected: Answer(400, "upload_rejected"),
    BadMapping: Answer(400, "bad_mapping"),
    BadNeedBy: Answer(400, "bad_need_by"),
    EndpointRefused: Answer(400, "webhook_refused"),
    BadOptions: Answer(400, "bad_options"),
    URLTooLong: Answer(414, "url_too_long"),
    # Another user's job or upload too: whether it exists is not theirs to know.
    Http404: Answer(404, "not_found", "Not found."),
    # The job or upload is not in a state that allows the action, or nothing would change.
    JobActionRefused: Answer(409, "action_refused"),
    NothingToDo: Answer(409, "action_refused"),
    DeliveryRefused: Answer(409, "delivery_busy"),
    # Raised as itself only for an upload already made into a job.
    SubmitRefused: Answer(409, "upload_submitted"),
    UploadNotReady: Answer(409, "upload_not_ready"),
    NothingToSubmit: Answer(409, "nothing_to_submit"),
    UploadExpired: Answer(410, "upload_expired"),
    RetryLimitReached: Answer(429, "retry_limit"),
    UploadRateLimited: Answer(429, "upload_rate_limited"),
}

# The answers that come from the framework rather than the table.
BAD_INPUT = {400: Error}
SIGNED_OUT = {401: Error}
# A POST from a signed-in browser session without its X-CSRFToken header.
NO_CSRF = {403: Error}
# Any endpoint, for a URL past MAX_URL_CHARS.
LONG_URL = {414: Error}


def answers(*exceptions: type[Exception]) -> dict[int, type[Error]]:
    """The error responses an endpoint lists for the exceptions it lets through."""
    return {ANSWERS[exception].status: Error for exception in exceptions}


# What every endpoint may answer for a job or upload id: 400 for a malformed one (a job id
# that is not a number), 401 without credentials, 404 for one that is not the caller's.
READ = {**BAD_INPUT, **SIGNED_OUT, **answers(Http404), **LONG_URL}
WRITE = {**BAD_INPUT, **SIGNED_OUT, **NO_CSRF, **answers(Http404), **LONG_URL}


def install(api: NinjaAPI) -> None:
    """Make `api` answer the table's exceptions, and the framework's own errors, alike."""
    for exception in ANSWERS:
        api.add_exception_handler(exception, partial(_from_table, api))
    api.add_exception_handler(HttpError, partial(_http_error, api))
    api.add_exception_handler(ValidationError, partial(_invalid, api))


def check_url_length(request: HttpRequest) -> None:
    """Refuse a URL past MAX_URL_CHARS (the 414 every endpoint lists)."""
    if len(request.get_full_path()) > MAX_URL_CHARS:
        raise URLTooLong(f"The URL is longer than {MAX_URL_CHARS:,} characters.")


def _answer_for(exc: Exception) -> Answer:
    """The table's answer for an exception: that of the nearest of its classes listed."""
    return next(ANSWERS[cls] for cls in type(exc).__mro__ if cls in ANSWERS)


def _respond(
    api: NinjaAPI, request: HttpRequest, status: int, code: str, detail: str
) -> HttpResponse:
    body = Error(detail=detail, code=code).model_dump()
    return api.create_response(request, body, status=status)


def _from_table(api: NinjaAPI, request: HttpRequest, exc: Exception) -> HttpResponse:
    answer = _answer_for(exc)
    return _respond(api, request, answer.status, answer.code, answer.detail or str(exc))


def _http_error(api: NinjaAPI, request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = {401: "unauthorized", 403: "forbidden"}.get(exc.status_code, "error")
    return _respond(api, request, exc.status_code, code, str(exc))


def _invalid(api: NinjaAPI, request: HttpRequest, exc: ValidationError) -> HttpResponse:
    # pydantic's messages, named by the field they are about, as one sentence per field.
    problems = []
    for error in exc.errors:
        where = [str(part) for part in error.get("loc", ()) if part not in ("query", "form")]
        problems.append(f"{'.'.join(where) or 'request'}: {error.get('msg', 'invalid')}")
    detail = "; ".join(problems) or "The request is not valid."
    return _respond(api, request, 400, "invalid", detail)
