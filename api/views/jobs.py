"""Jobs: my jobs, one job's progress, its actions (cancel, resume, retry) and its results."""

from __future__ import annotations

from typing import Literal

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from pydantic import Field

from api import errors, schemas
from api.pagination import ListPage, list_page
from bulk import exports, listing, selectors
from bulk.models import BatchJob
from bulk.services import jobs, tidy

router = Router()

# Database ids are signed 64-bit: a larger number names nothing (rather than overflowing).
MAX_ID = 2**63 - 1


def _my_job(request: HttpRequest, job_id: int) -> BatchJob:
    if not 0 < job_id <= MAX_ID:
        raise Http404
    return get_object_or_404(selectors.jobs_for_user(user=request.auth), pk=job_id)


class JobFilter(Schema):
    status: schemas.JobStatus | None = None
    q: str = Field(
        "", max_length=200, description="Name, file name or an address (street, city, ZIP)."
    )
    page: int = Field(1, ge=1)
    page_size: int = Field(listing.JOBS_PER_PAGE, ge=1, le=200)


@router.get(
    "/jobs",
    response={200: schemas.JobPage, **errors.BAD_INPUT, **errors.SIGNED_OUT, **errors.LONG_URL},
    url_name="job_list",
    summary="My jobs, newest first",
    tags=["jobs"],
)
def list_jobs(request: HttpRequest, filters: Query[JobFilter]) -> ListPage:
    mine = listing.search_jobs(selectors.jobs_for_user(user=request.auth), query=filters.q)
    if filters.status:
        mine = mine.filter(status=filters.status)
    return list_page(Paginator(mine, filters.page_size), page=filters.page)


@router.get(
    "/jobs/{job_id}",
    response={200: schemas.JobDetail, **errors.READ},
    url_name="job_detail",
    summary="A job's counts, its row in flight and its ETA",
    tags=["jobs"],
)
def get_job(request: HttpRequest, job_id: int) -> schemas.JobWithProgress:
    job = _my_job(request, job_id)
    return schemas.JobWithProgress(job, selectors.job_progress(job=job))


class JobChange(Schema):
    name: str = Field(max_length=255, description="Blank: the file name again.")


@router.patch(
    "/jobs/{job_id}",
    response={200: schemas.Job, **errors.WRITE},
    url_name="job_update",
    summary="Rename a job",
    tags=["jobs"],
)
def update_job(request: HttpRequest, job_id: int, change: JobChange) -> BatchJob:
    return tidy.rename_job(job=_my_job(request, job_id), name=change.name, by=request.auth)


@router.delete(
    "/jobs/{job_id}",
    response={204: None, **errors.WRITE, **errors.answers(jobs.JobActionRefused)},
    url_name="job_delete",
    summary="Delete a finished or cancelled job, its rows, its file and its results",
    tags=["jobs"],
)
def delete_job(request: HttpRequest, job_id: int) -> Status:
    tidy.delete_job(job=_my_job(request, job_id), by=request.auth)
    return Status(204, None)


# --- Actions ------------------------------------------------------------------------------


@router.post(
    "/jobs/{job_id}/cancel",
    response={200: schemas.Job, **errors.WRITE, **errors.answers(jobs.JobActionRefused)},
    url_name="job_cancel",
    summary="Cancel a job: rows not yet quoted are cancelled",
    tags=["jobs"],
)
def cancel_job(request: HttpRequest, job_id: int) -> BatchJob:
    return jobs.cancel_job(job=_my_job(request, job_id), by=request.auth)


@router.post(
    "/jobs/{job_id}/resume",
    response={
        200: schemas.Job,
        **errors.WRITE,
        **errors.answers(jobs.JobActionRefused, jobs.RetryLimitReached),
    },
    url_name="job_resume",
    summary="Put a cancelled job's cancelled rows back in line",
    tags=["jobs"],
)
def resume_job(request: HttpRequest, job_id: int) -> BatchJob:
    return jobs.resume_job(job=_my_job(request, job_id), by=request.auth)


@router.post(
    "/jobs/{job_id}/retry",
    response={
        200: schemas.Job,
        **errors.WRITE,
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
def retry_job(request: HttpRequest, job_id: int) -> BatchJob:
    return jobs.retry_failed_rows(job=_my_job(request, job_id), by=request.auth)


# --- Results ------------------------------------------------------------------------------


class RowFilter(Schema):
    status: schemas.RowStatus | None = None
    page: int = Field(1, ge=1)
    page_size: int = Field(selectors.ROWS_PER_PAGE, ge=1, le=1000)


@router.get(
    "/jobs/{job_id}/results",
    response={200: schemas.RowPage, **errors.READ},
    url_name="job_results",
    summary="A job's rows and their prices, in spreadsheet order",
    tags=["results"],
)
def job_results(request: HttpRequest, job_id: int, filters: Query[RowFilter]) -> ListPage:
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


@router.get(
    "/jobs/{job_id}/results.csv",
    response={200: None, **errors.READ},
    url_name="job_results_csv",
    summary="A job's results as CSV: the uploaded columns, then status, MRC, NRC, carrier, error",
    tags=["results"],
)
def job_results_csv(
    request: HttpRequest, job_id: int, filters: Query[ExportFilter]
) -> HttpResponse:
    return _export(request, job_id, "csv", filters.rows)


@router.get(
    "/jobs/{job_id}/results.xlsx",
    response={200: None, **errors.READ},
    url_name="job_results_xlsx",
    summary="A job's results as an xlsx workbook",
    tags=["results"],
)
def job_results_xlsx(
    request: HttpRequest, job_id: int, filters: Query[ExportFilter]
) -> HttpResponse:
    return _export(request, job_id, "xlsx", filters.rows)
