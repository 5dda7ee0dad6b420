"""Reads for finding jobs and what a job kept of its sheet: the jobs list (a status, a
search by name, file name or an address in the job) and the rows that were not quoted
(invalid, with their reasons; duplicates), as the preview showed them."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import User
from bulk.models import BatchJob, BatchQuote, JobSource
from bulk.selectors import jobs_for_user
from bulk.services.uploads import PREVIEW_PROBLEM_ROWS, shown_address
from bulk.spreadsheets.cells import decode_cell
from bulk.spreadsheets.mapping import ColumnMap

JOBS_PER_PAGE = 25


def search_jobs(jobs: QuerySet[BatchJob], *, query: str) -> QuerySet[BatchJob]:
    """The jobs whose name or file name holds `query`, or with a row at an address that
    does (street, city, state or ZIP, as uploaded)."""
    query = " ".join(query.split())
    if not query:
        return jobs
    row_matches = BatchQuote.objects.filter(batch_job=OuterRef("pk")).filter(
        Q(street_address__icontains=query)
        | Q(city__iexact=query)
        | Q(zip_code=query)
        | Q(address_key__icontains=query.upper())
    )
    return jobs.filter(
        Q(name__icontains=query) | Q(file_name__icontains=query) | Exists(row_matches)
    )


def jobs_page(
    *,
    user: User,
    status: str | None = None,
    query: str = "",
    page: object = 1,
    per_page: int = JOBS_PER_PAGE,
) -> Page:
    """One page of the user's jobs, newest first: of one status, matching a search."""
    jobs = search_jobs(jobs_for_user(user=user), query=query)
    if status:
        jobs = jobs.filter(status=status)
    return Paginator(jobs, per_page).get_page(page)


def job_source(*, job: BatchJob) -> JobSource | None:
    """What the job page says about the uploaded sheet (rows skipped and why)."""
    return JobSource.objects.filter(batch_job=job).defer("rows", "content").first()


@dataclass(frozen=True)
class SkippedRows:
    """The first rows not quoted, as the preview listed them, and how many there are."""

    invalid: list[dict]
    duplicates: list[dict]


def skipped_rows(*, job: BatchJob, limit: int = PREVIEW_PROBLEM_ROWS) -> SkippedRows:
    """The job's invalid rows (with their reasons) and duplicates, kept from its upload."""
    kept = JobSource.objects.filter(batch_job=job).values_list("rows", "mapping").first()
    rows, mapping = kept or ({}, {})
    mapped = sorted(set(ColumnMap.from_json(mapping).columns.values())) if mapping else []

    def address(cells: list) -> str:
        return shown_address([decode_cell(c) for c in cells], mapped)

    invalid = [
        {"row": n, "errors": errors, "address": address(cells)}
        for n, cells, errors, *_ in (rows or {}).get("invalid", [])[:limit]
    ]
    duplicates = [
        {"row": n, "duplicate_of": first, "address": address(cells)}
        for n, first, cells in (rows or {}).get("duplicates", [])[:limit]
    ]
    return SkippedRows(invalid=invalid, duplicates=duplicates)
