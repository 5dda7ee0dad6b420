"""Stage an uploaded spreadsheet for its preview, then submit it as a BatchJob.

The parsed rows are held in a `StagedUpload` (never re-posted by the browser). It expires
after STAGED_UPLOAD_TTL, and submitting it twice gives the same job.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import IO, TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from accounts.zones import zone_or_site
from bulk import selectors
from bulk.line import submit_estimate
from bulk.models import BatchJob, ColumnMapping, JobSource, StagedUpload
from bulk.services.job_rows import create_rows, job_rows
from bulk.services.throttling import UploadRateLimited, check_upload_rate
from bulk.spreadsheets.cells import cell_text, encode_cell
from bulk.spreadsheets.downloads import upload_file_name
from bulk.spreadsheets.isolated import ReadLimits
from bulk.spreadsheets.mapping import ColumnMap
from bulk.spreadsheets.reading import UploadRejected
from bulk.spreadsheets.upload import ParsedUpload, parse_upload
from config.celery import wake_engine
from config.memory import collector_paused
from quotes.options import Option

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

__all__ = ["UploadRateLimited", "UploadRejected"]

STAGED_UPLOAD_TTL = timedelta(hours=24)
PREVIEW_VALID_ROWS = 20
PREVIEW_PROBLEM_ROWS = 100


class SubmitRefused(Exception):
    """A staged upload cannot become a job; the message says why, for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UploadExpired(SubmitRefused):
    pass


class UploadNotReady(SubmitRefused):
    pass


class NothingToSubmit(SubmitRefused):
    pass


def _parse(data: bytes, **options) -> ParsedUpload:
    """`parse_upload` within the portal's limits: rows, and what the read may spend."""
    limits = ReadLimits(
        settings.BULK_READ_MEMORY_LIMIT_MB,
        settings.BULK_READ_CPU_SECONDS,
        settings.BULK_READ_TIMEOUT_SECONDS,
    )
    return parse_upload(data, read_limits=limits, **{"max_rows": settings.BULK_MAX_ROWS, **options})


def read_upload(
    *,
    uploaded_file: IO[bytes],
    mapping: ColumnMap | None = None,
    user: User | None = None,
    max_rows: int | None = None,
) -> ParsedUpload:
    """Parse and validate a file within the portal's limits (with the user's remembered
    choice of columns); nothing is saved."""
    return _parse(
        _read_within_limit(uploaded_file),
        max_rows=settings.BULK_MAX_ROWS if max_rows is None else max_rows,
        mapping=mapping,
        remembered=selectors.remembered_mappings(user=user) if user else None,
    )


def stage_upload(
    *,
    user: User,
    uploaded_file: IO[bytes],
    file_name: str,
    speed_mbps: int,
    term_months: int,
    notify_email: bool,
    mapping: ColumnMap | None = None,
    reuse_days: int | None = None,
    need_by: datetime | None = None,
    options: list[Option] | None = None,
) -> StagedUpload:
    """Read and validate an upload and hold the result for its preview.

    Past the user's hourly uploads it raises UploadRateLimited before reading anything.
    Whole-file problems raise UploadRejected and save nothing. A file whose columns can't
    all be found is held as `mapping`, for the user to choose them. The read happens here,
    in the request: every file the limits allow is read in well under a second or two
    (docs/benchmarks.md, "Upload").
    """
    check_upload_rate(user=user)
    data = _read_within_limit(uploaded_file)
    parsed = _parse(data, mapping=mapping, remembered=selectors.remembered_mappings(user=user))
    if mapping is not None and not parsed.mapping_problem:
        remember_mapping(user=user, parsed=parsed)
    if options:
        # Several options: the first is the job's speed and term.
        speed_mbps, term_months = options[0].speed_mbps, options[0].term_months
    return StagedUpload.objects.create(
        user=user,
        file_name=upload_file_name(file_name),
        speed_mbps=speed_mbps,
        term_months=term_months,
        options=[o.as_json() for o in options] if options and len(options) > 1 else [],
        notify_email=notify_email,
        reuse_days=settings.QUOTE_REUSE_DAYS if reuse_days is None else reuse_days,
        need_by=need_by,
        expires_at=timezone.now() + STAGED_UPLOAD_TTL,
        content=data,
        **_parsed_fields(parsed),
    )


def remap_upload(*, staged: StagedUpload, user: User, mapping: ColumnMap) -> StagedUpload:
    """Read a staged upload again with the columns the user chose, and remember them."""
    if staged.is_submitted:
        raise SubmitRefused("This upload has been submitted; its columns can't change now.")
    if staged.is_expired or staged.content is None:
        raise UploadExpired("This upload has expired. Upload the file again.")
    parsed = _parse(bytes(staged.content), mapping=mapping)
    if not parsed.mapping_problem:
        remember_mapping(user=user, parsed=parsed)
    fields = _parsed_fields(parsed)
    StagedUpload.objects.filter(pk=staged.pk, batch_job__isnull=True).update(**fields)
    for name, value in fields.items():
        setattr(staged, name, value)
    return staged


def remember_mapping(*, user: User, parsed: ParsedUpload) -> ColumnMapping:
    """Keep the user's choice of columns for files of this layout."""
    stored = parsed.mapping.as_json() | {"header_row": None, "sheet": None}
    mapping, _created = ColumnMapping.objects.update_or_create(
        user=user, signature=parsed.signature, defaults={"mapping": stored}
    )
    return mapping


def submit_staged_upload(*, staged: StagedUpload, user: User) -> BatchJob:
    """Create the job and its rows from a staged upload, once, and wake the engine.

    A second call (a double click, a second tab) returns the job the first one made.
    """
    try:
        with collector_paused():
            return _submit(staged_id=staged.pk, user=user)
    except IntegrityError:
        # Another request attached its job first (the one-to-one refused ours).
        job = selectors.jobs_for_user(user=user).filter(staged_upload__pk=staged.pk).first()
        if job is None:
            raise
        return job


@transaction.atomic
def _submit(*, staged_id, user: User) -> BatchJob:
    # The row lock (and on SQLite the IMMEDIATE transaction) makes a second, concurrent
    # submit wait here and then find the job the first one attached.
    staged = (
        selectors.staged_uploads_for_user(user=user, with_rows=True, with_content=True)
        .select_for_update()
        .filter(pk=staged_id)
        .first()
    )
    if staged is None:
        raise UploadExpired("This upload no longer exists. Upload the file again.")
    if staged.batch_job is not None:
        return staged.batch_job
    _check_submittable(staged)
    job = _create_job(staged=staged, user=user)
    job.estimate_at_submit = submit_estimate(job)
    job.save(update_fields=["estimate_at_submit"])
    attached = StagedUpload.objects.filter(pk=staged.pk, batch_job__isnull=True).update(
        batch_job=job, submitted_at=timezone.now(), content=None
    )
    if attached != 1:
        raise IntegrityError("staged upload was submitted concurrently")
    wake_engine()
    logger.info("upload %s submitted as job %s (%s rows)", staged.pk, job.pk, job.total_count)
    return job


def _check_submittable(staged: StagedUpload) -> None:
    """Raise what stops this upload from becoming a job, if anything does."""
    if staged.is_expired:
        raise UploadExpired("This upload has expired. Upload the file again to quote it.")
    if staged.status == StagedUpload.Status.MAPPING:
        raise UploadNotReady(staged.mapping_problem or "Choose the address columns first.")
    if staged.status == StagedUpload.Status.REJECTED:
        raise NothingToSubmit(staged.error_message or "This file can't be quoted.")
    if not staged.rows.get("valid", []):
        raise NothingToSubmit("No row of this file is valid, so there is nothing to quote.")


def _create_job(*, staged: StagedUpload, user: User) -> BatchJob:
    """The job, its rows, what it keeps of the file, and the user's remembered columns."""
    valid = staged.rows["valid"]
    job = BatchJob.objects.create(
        user=user,
        status=BatchJob.Status.PENDING,
        file_name=staged.file_name,
        name=staged.file_name,
        source_columns=staged.columns,
        notify_email=staged.notify_email,
        speed_mbps=staged.speed_mbps,
        term_months=staged.term_months,
        options=staged.options,
        reuse_days=staged.reuse_days,
        need_by=staged.need_by,
        time_zone=zone_or_site(user.time_zone).key,
    )
    rows = list(job_rows(valid=valid, options=job.option_list))
    # Counters go per quote: an address asked at two options is two quotes.
    job.total_count = len(rows)
    BatchJob.objects.filter(pk=job.pk).update(total_count=job.total_count)
    _keep_source(staged=staged, job=job)
    if staged.signature and staged.mapping:
        ColumnMapping.objects.update_or_create(
            user=user,
            signature=staged.signature,
            defaults={"mapping": staged.mapping | {"header_row": None, "sheet": None}},
        )
    # Last: a job whose rows all take recent answers ends here, its source kept.
    create_rows(job=job, rows=rows)
    return job


def _keep_source(*, staged: StagedUpload, job: BatchJob) -> None:
    """What the results file needs of the upload beyond the rows: header, mapping, and the
    rows that were not quoted (invalid, with reasons; duplicates)."""
    invalid = staged.rows.get("invalid", [])
    reasons = Counter(row[3][0] if row[3] else "Invalid" for row in invalid)
    JobSource.objects.create(
        batch_job=job,
        file_format=staged.file_format,
        sheet_name=staged.sheet_name,
        header_row=staged.header_row,
        header=staged.header_cells,
        mapping=staged.mapping,
        invalid_count=len(invalid),
        duplicate_count=len(staged.rows.get("duplicates", [])),
        skipped_reasons=dict(reasons.most_common()),
        rows={"invalid": invalid, "duplicates": staged.rows.get("duplicates", [])},
        content=staged.content,
    )


def delete_expired_uploads() -> int:
    """Delete staged uploads past their expiry (their jobs stay); return how many."""
    _, by_model = StagedUpload.objects.filter(expires_at__lte=timezone.now()).delete()
    return by_model.get(StagedUpload._meta.label, 0)


# --- Helpers ------------------------------------------------------------------------------


def _read_within_limit(uploaded_file: IO[bytes]) -> bytes:
    limit = settings.BULK_MAX_UPLOAD_BYTES
    if hasattr(uploaded_file, "seek"):
        uploaded_file.seek(0)
    data = uploaded_file.read(limit + 1)
    if len(data) > limit:
        raise UploadRejected(
            f"The file is larger than the {filesizeformat(limit)} limit. Split it into "
            "smaller files and upload them one at a time."
        )
    return data


def _parsed_fields(parsed: ParsedUpload) -> dict:
    """The StagedUpload fields for a parse result: mapping, counts, rows and preview."""
    status = StagedUpload.Status.MAPPING if parsed.mapping_problem else StagedUpload.Status.READY
    return {
        "status": status,
        "file_format": parsed.file_format,
        "sheet_name": parsed.sheet_name[:100],
        "sheet_names": [name[:100] for name in parsed.sheet_names[:50]],
        "header_row": parsed.header_row_number,
        "columns": parsed.columns,
        "header_cells": _encoded(parsed.header_cells) if parsed.header_cells is not None else None,
        "field_columns": parsed.field_columns,
        "mapping": parsed.mapping.as_json(),
        "mapping_source": parsed.mapping_source,
        "mapping_problem": parsed.mapping_problem,
        "signature": parsed.signature,
        "samples": parsed.samples,
        "valid_count": parsed.valid_count,
        "invalid_count": parsed.invalid_count,
        "duplicate_count": parsed.duplicate_count,
        "rows": _stored_rows(parsed),
        "preview": _preview(parsed),
    }


def _stored_rows(parsed: ParsedUpload) -> dict:
    """Every row, kept until the upload is submitted: valid rows as they will be quoted,
    invalid and duplicate rows for the results; each with its cells as uploaded."""
    return {
        "valid": [
            [
                r.row_number,
                r.street_address,
                r.city,
                r.state,
                r.zip_code,
                r.address_key,
                _encoded(r.cells),
                r.speed_mbps,
                r.term_months,
            ]
            for r in parsed.valid_rows
        ],
        "invalid": [
            [r.row_number, _encoded(r.cells), r.errors, r.reasons] for r in parsed.invalid_rows
        ],
        "duplicates": [
            [r.row_number, r.duplicate_of, _encoded(r.cells)] for r in parsed.duplicate_rows
        ],
    }


def _preview(parsed: ParsedUpload) -> dict:
    """The first valid and problem rows, as the preview page shows them."""
    mapped = sorted(set(parsed.mapping.columns.values()))
    return {
        "valid": [
            {
                "row": r.row_number,
                "street_address": r.street_address,
                "city": r.city,
                "state": r.state,
                "zip_code": r.zip_code,
                # The row's own speed and term (None: the job's).
                **{"speed_mbps": r.speed_mbps, "term_months": r.term_months},
            }
            for r in parsed.valid_rows[:PREVIEW_VALID_ROWS]
        ],
        "invalid": [
            {"row": r.row_number, "errors": r.errors, "address": shown_address(r.cells, mapped)}
            for r in parsed.invalid_rows[:PREVIEW_PROBLEM_ROWS]
        ],
        "duplicates": [
            {
                "row": r.row_number,
                "duplicate_of": r.duplicate_of,
                "address": shown_address(r.cells, mapped),
            }
            for r in parsed.duplicate_rows[:PREVIEW_PROBLEM_ROWS]
        ],
    }


def _encoded(cells: list) -> list:
    return [encode_cell(c) for c in cells]


def shown_address(cells: list, mapped: list[int]) -> str:
    """What a problem row holds in the mapped columns, for the preview."""
    return ", ".join(t for i in mapped if i < len(cells) and (t := cell_text(cells[i])))
