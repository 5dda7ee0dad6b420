"""The JSON API for programs: the same powers as the job pages, under /api/v1/.

Built with django-ninja: typed function views (the house style of the web views), request
and response schemas validated by pydantic, and the OpenAPI schema generated from them.
Writes go through the same services as the web pages; reads through the same selectors.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal
from uuid import UUID

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import File, Form, NinjaAPI, Query, Schema, Status
from ninja.files import UploadedFile
from pydantic import AfterValidator, Field, WithJsonSchema

from api import errors, schemas
from api.auth import API_AUTH
from api.pagination import list_page
from bulk import exports, selectors
from bulk.forms import MAX_REUSE_DAYS
from bulk.models import (
    DEFAULT_SPEED_MBPS,
    DEFAULT_TERM_MONTHS,
    SPEEDS_MBPS,
    TERMS_MONTHS,
    BatchJob,
    StagedUpload,
)
from bulk.parsing import ColumnMap
from bulk.services import jobs, uploads

DESCRIPTION = """
Bulk quotes for programs. Sign in with `Authorization: Bearer <token>` (make the token on
your profile page), or from the portal's own pages with the session cookie and the
`X-CSRFToken` header.

To quote a spreadsheet: `POST /uploads` with the file (the answer is the validation:
counts, and every invalid row with its reasons), then `POST /uploads/{id}/submit` to start
the job (calling it again returns the same job). A large workbook is read in the
background: its upload is `parsing` until `GET /uploads/{id}` says `ready`.

Errors answer `{"detail": "...", "code": "..."}`: 400 for bad input (including a file
that is not an xlsx or csv spreadsheet), 401 without valid credentials (on every method),
403 for a session POST without its CSRF token, 404 for anything that is not yours, 409
when the job or upload is not in a state that allows the action, 410 for an expired
upload. Each endpoint lists the ones it gives.
"""

api = NinjaAPI(
    title="Bulk Quotes API",
    version="1",
    description=DESCRIPTION,
    auth=API_AUTH,
    urls_namespace="api",
)

errors.install(api)

# 400 also for a malformed path parameter (a job id that is not a number).
READ = {**errors.BAD_INPUT, **errors.SIGNED_OUT, **errors.answers(Http404)}
WRITE = {**errors.BAD_INPUT, **errors.SIGNED_OUT, **errors.NO_CSRF, **errors.answers(Http404)}
# Database ids are signed 64-bit: a larger number names nothing (rather than overflowing).
MAX_ID = 2**63 - 1


def _my_job(request: HttpRequest, job_id: int) -> BatchJob:
    if not 0 < job_id <= MAX_ID:
        raise Http404
    return get_object_or_404(selectors.jobs_for_user(user=request.auth), pk=job_id)


def _my_upload(
    request: HttpRequest, upload_id: UUID, *, with_rows: bool = False, with_content: bool = False
) -> StagedUpload:
    mine = selectors.staged_uploads_for_user(
        user=request.auth, with_rows=with_rows, with_content=with_content
    )
    return get_object_or_404(mine, pk=upload_id)


# --- Uploads ------------------------------------------------------------------------------


def _one_of(choices: tuple[int, ...]):
    def check(value: int) -> int:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(map(str, choices))}")
        return value

    # A form sends text: an int checked against the choices (a Literal would refuse "500").
    schema = WithJsonSchema({"type": "integer", "enum": list(choices)})
    return Annotated[int, AfterValidator(check), schema]


SpeedMbps = _one_of(SPEEDS_MBPS)
TermMonths = _one_of(TERMS_MONTHS)
# Form fields with their defaults (`Form[...] = default` loses the default of an Annotated).
SPEED_FIELD = Form(DEFAULT_SPEED_MBPS)
TERM_FIELD = Form(DEFAULT_TERM_MONTHS)
NOTIFY_FIELD = Form(True, description="Email me when the job ends.")
MAPPING_FIELD = Form(
    "",
    description='Optional JSON: which column feeds each field, e.g. {"street": "B", "city": 3, '
    '"state": "State", "zip": "E"} or {"address": "B"}. A column is a header name, a letter or '
    "a 1-based number. Fields: street, unit, city, state, zip, address.",
)
NO_HEADER_FIELD = Form(False, description="The first row is data, not headers.")
UPLOAD_FILE = File(
    ...,
    description="An .xlsx, .xls, .ods or .csv spreadsheet of addresses (a header row is optional; "
    "see `mapping` and `no_header`). Any other file answers 400 `upload_rejected`.",
)
REUSE_FIELD = Form(
    None,
    ge=0,
    le=MAX_REUSE_DAYS,
    description="Reuse a price Momentum gave for the same address, speed and term within "
    "this many days instead of asking again (0: never). Default: the portal's setting "
    "(QUOTE_REUSE_DAYS, 30). Timeouts and outages are never reused.",
)


@api.post(
    "/uploads",
    response={
        201: schemas.Upload,
        **errors.answers(uploads.UploadRejected, errors.BadMapping),
        **errors.SIGNED_OUT,
        **errors.NO_CSRF,
    },
    url_name="upload_create",
    summary="Upload a spreadsheet and validate it",
    tags=["uploads"],
)
def create_upload(
    request: HttpRequest,
    file: UploadedFile = UPLOAD_FILE,
    speed_mbps: SpeedMbps = SPEED_FIELD,
    term_months: TermMonths = TERM_FIELD,
    notify_email: bool = NOTIFY_FIELD,
    mapping: str = MAPPING_FIELD,
    no_header: bool = NO_HEADER_FIELD,
    reuse_days: int | None = REUSE_FIELD,
):
    """Read and validate an xlsx, xls, ods or csv file of addresses; nothing is quoted yet. A
    file that is not such a spreadsheet is refused with 400 and the reason.

    The answer has how the columns were read, the counts, every invalid row with its
    reasons, and the estimate. If the address columns can't all be found the upload is
    `mapping`: name them with `POST /uploads/{id}/columns` (or send `mapping` here).
    """
    staged = uploads.stage_upload(
        user=request.auth,
        uploaded_file=file,
        file_name=file.name or "upload",
        speed_mbps=speed_mbps,
        term_months=term_months,
        notify_email=notify_email,
        mapping=_column_map(mapping, no_header),
        reuse_days=reuse_days,
    )
    return Status(201, staged)


def _column_map(mapping: str, no_header: bool) -> ColumnMap | None:
    if not mapping.strip():
        return ColumnMap({}, has_header=False) if no_header else None
    try:
        spec = json.loads(mapping)
        if not isinstance(spec, dict):
            raise ValueError("mapping must be a JSON object")
        return ColumnMap.from_spec(spec, has_header=not no_header)
    except ValueError as error:
        raise errors.BadMapping(f"mapping: {error}") from error


class Columns(Schema):
    mapping: dict[str, str | int] = Field(
        description='Field to column: {"street": "B", "city": 3, "state": "State"}; a column '
        "is a header name, a letter or a 1-based number."
    )
    no_header: bool = Field(False, description="The first row is data, not headers.")
    sheet: str | None = Field(None, description="The sheet to read (default: as found).")


@api.post(
    "/uploads/{upload_id}/columns",
    response={
        200: schemas.Upload,
        **WRITE,
        **errors.answers(
            errors.BadMapping, uploads.UploadRejected, uploads.SubmitRefused, uploads.UploadExpired
        ),
    },
    url_name="upload_columns",
    summary="Choose which columns hold the address, and read the file again",
    tags=["uploads"],
)
def set_columns(request: HttpRequest, upload_id: UUID, body: Columns):
    """Your choice is remembered for your next file laid out the same way."""
    staged = _my_upload(request, upload_id, with_content=True)
    try:
        mapping = ColumnMap.from_spec(body.mapping, has_header=not body.no_header)
    except ValueError as error:
        raise errors.BadMapping(f"mapping: {error}") from error
    mapping.sheet = body.sheet
    if body.sheet in (None, staged.sheet_name):
        mapping.header_row = staged.header_row
    return uploads.remap_upload(staged=staged, user=request.auth, mapping=mapping)


@api.get(
    "/uploads/{upload_id}",
    response={200: schemas.Upload, **READ},
    url_name="upload_detail",
    summary="An upload's validation result",
    tags=["uploads"],
)
def get_upload(request: HttpRequest, upload_id: UUID):
    return _my_upload(request, upload_id, with_rows=True)


@api.post(
    "/uploads/{upload_id}/submit",
    response={
        200: schemas.Job,
        201: schemas.Job,
        **WRITE,
        **errors.answers(uploads.UploadExpired, uploads.UploadNotReady, uploads.NothingToSubmit),
    },
    url_name="upload_submit",
    summary="Start the job for a validated upload",
    tags=["uploads"],
)
def submit_upload(request: HttpRequest, upload_id: UUID):
    """Create the job from the upload's valid rows: 201 the first time; a repeated call
    returns the same job with 200."""
    staged = _my_upload(request, upload_id)
    existed = staged.batch_job_id is not None
    job = uploads.submit_staged_upload(staged=staged, user=request.auth)
    return Status(200 if existed else 201, job)


# --- Jobs ---------------------------------------------------------------------------------


class JobFilter(Schema):
    status: schemas.JobStatus | None = None
    page: int = Field(1, ge=1)
    page_size: int = Field(selectors.JOBS_PER_PAGE, ge=1, le=200)


@api.get(
    "/jobs",
    response={200: schemas.JobPage, **errors.BAD_INPUT, **errors.SIGNED_OUT},
    url_name="job_list",
    summary="My jobs, newest first",
    tags=["jobs"],
)
def list_jobs(request: HttpRequest, filters: Query[JobFilter]):
    mine = selectors.jobs_for_user(user=request.auth)
    if filters.status:
        mine = mine.filter(status=filters.status)
    return list_page(Paginator(mine, filters.page_size), page=filters.page)


@api.get(
    "/jobs/{job_id}",
    response={200: schemas.JobDetail, **READ},
    url_name="job_detail",
    summary="A job's counts, its row in flight and its ETA",
    tags=["jobs"],
)
def get_job(request: HttpRequest, job_id: int):
    job = _my_job(request, job_id)
    return schemas.JobWithProgress(job, selectors.job_progress(job=job))


JOB_ACTIONS = {
    "cancel": jobs.cancel_job,
    "resume": jobs.resume_job,
    "retry": jobs.retry_failed_rows,
}


def _act(request: HttpRequest, job_id: int, action: str) -> BatchJob:
    job = _my_job(request, job_id)
    return JOB_ACTIONS[action](job=job, by=request.auth)


@api.post(
    "/jobs/{job_id}/cancel",
    response={200: schemas.Job, **WRITE, **errors.answers(jobs.JobActionRefused)},
    url_name="job_cancel",
    summary="Cancel a job: rows not yet quoted are cancelled",
    tags=["jobs"],
)
def cancel_job(request: HttpRequest, job_id: int):
    return _act(request, job_id, "cancel")


@api.post(
    "/jobs/{job_id}/resume",
    response={
        200: schemas.Job,
        **WRITE,
        **errors.answers(jobs.JobActionRefused, jobs.RetryLimitReached),
    },
    url_name="job_resume",
    summary="Put a cancelled job's cancelled rows back in line",
    tags=["jobs"],
)
def resume_job(request: HttpRequest, job_id: int):
    return _act(request, job_id, "resume")


@api.post(
    "/jobs/{job_id}/retry",
    response={
        200: schemas.Job,
        **WRITE,
        **errors.answers(jobs.JobActionRefused, jobs.RetryLimitReached),
    },
    url_name="job_retry",
    summary="Put a job's failed rows that a retry can change back in line",
    description=(
        "Re-queues rows that failed because they timed out or Momentum was unavailable; "
        "rows Momentum rejected (no coverage, invalid address) stay failed. 409 when no "
        "row would change; 429 after BULK_MAX_RETRIES_PER_HOUR retries of the job within "
        "an hour."
    ),
    tags=["jobs"],
)
def retry_job(request: HttpRequest, job_id: int):
    return _act(request, job_id, "retry")


# --- Results ------------------------------------------------------------------------------


class RowFilter(Schema):
    status: schemas.RowStatus | None = None
    page: int = Field(1, ge=1)
    page_size: int = Field(selectors.ROWS_PER_PAGE, ge=1, le=1000)


@api.get(
    "/jobs/{job_id}/results",
    response={200: schemas.RowPage, **READ},
    url_name="job_results",
    summary="A job's rows and their prices, in spreadsheet order",
    tags=["results"],
)
def job_results(request: HttpRequest, job_id: int, filters: Query[RowFilter]):
    job = _my_job(request, job_id)
    processing = len(selectors.rows_in_flight(job=job)) if filters.status else 0
    counts = selectors.row_counts(job=job, processing=processing)
    rows = selectors.job_rows(job=job, status=filters.status)
    count = counts[filters.status] if filters.status else job.total_count
    paginator = selectors.RowsPaginator(rows, filters.page_size, count=count)
    return list_page(paginator, page=filters.page)


class ExportFilter(Schema):
    rows: Literal["all", "failed"] = Field(
        "all",
        description="`failed`: only the failed rows, with the uploaded columns and "
        "the error, to fix and upload again.",
    )


def _export(request: HttpRequest, job_id: int, fmt: str, rows: str) -> HttpResponse:
    job = _my_job(request, job_id)
    return exports.download_response(job=job, fmt=fmt, failed_only=rows == "failed")


@api.get(
    "/jobs/{job_id}/results.csv",
    response={200: None, **READ},
    url_name="job_results_csv",
    summary="A job's results as CSV: the uploaded columns, then status, MRC, NRC, carrier, error",
    tags=["results"],
)
def job_results_csv(request: HttpRequest, job_id: int, filters: Query[ExportFilter]):
    return _export(request, job_id, "csv", filters.rows)


@api.get(
    "/jobs/{job_id}/results.xlsx",
    response={200: None, **READ},
    url_name="job_results_xlsx",
    summary="A job's results as an xlsx workbook",
    tags=["results"],
)
def job_results_xlsx(request: HttpRequest, job_id: int, filters: Query[ExportFilter]):
    return _export(request, job_id, "xlsx", filters.rows)
