"""Stage an uploaded spreadsheet for its preview, then submit it as a BatchJob.

The parsed rows are held in a `StagedUpload` (never re-posted by the browser). It expires
after STAGED_UPLOAD_TTL, and submitting it twice gives the same job.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from datetime import timedelta
from typing import IO, TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from bulk.models import BatchJob, BatchQuote, StagedUpload
from bulk.parsing import FIELDS, ParsedUpload, UploadRejected, parse_upload, parse_workload
from quotes.services.lifecycle import request_dispatch

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

STAGED_UPLOAD_TTL = timedelta(hours=24)
# Above this much sheet XML (about 15,000 rows of six columns, over a second of work)
# the web upload is parsed by a worker while the page shows progress.
INLINE_PARSE_MAX_WORKLOAD = 5 * 1024 * 1024
PREVIEW_VALID_ROWS = 20
PREVIEW_PROBLEM_ROWS = 100
# Cells that a spreadsheet program would run as a formula when the CSV is opened.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


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


def read_upload(*, uploaded_file: IO[bytes], max_rows: int | None = None) -> ParsedUpload:
    """Parse and validate a file within the portal's limits; nothing is saved."""
    return parse_upload(
        _read_within_limit(uploaded_file),
        max_rows=settings.BULK_MAX_ROWS if max_rows is None else max_rows,
    )


def stage_upload(
    *,
    user: User,
    uploaded_file: IO[bytes],
    file_name: str,
    speed_mbps: int,
    term_months: int,
    notify_email: bool,
    allow_background: bool = False,
) -> StagedUpload:
    """Read and validate an upload and hold the result for its preview.

    Whole-file problems raise UploadRejected and save nothing. With `allow_background`, a
    large workbook is only checked for its header here and read by a worker
    (`parse_staged_upload`); the staged upload is then `parsing` until it is done.
    """
    data = _read_within_limit(uploaded_file)
    fields = {
        "user": user,
        "file_name": _clean_file_name(file_name),
        "speed_mbps": speed_mbps,
        "term_months": term_months,
        "notify_email": notify_email,
        "expires_at": timezone.now() + STAGED_UPLOAD_TTL,
    }
    if allow_background and parse_workload(data) > INLINE_PARSE_MAX_WORKLOAD:
        # A missing column or a broken file is still refused at once.
        header = parse_upload(data, header_only=True)
        staged = StagedUpload.objects.create(
            **fields,
            status=StagedUpload.Status.PARSING,
            content=data,
            file_format=header.file_format,
            sheet_name=header.sheet_name[:100],
            header_row=header.header_row_number,
            columns=header.columns,
            field_columns=header.field_columns,
            rows_expected=header.expected_rows,
        )
        from bulk.tasks import parse_upload as parse_upload_task

        parse_upload_task.delay_on_commit(str(staged.pk))
        return staged
    parsed = parse_upload(data, max_rows=settings.BULK_MAX_ROWS)
    return StagedUpload.objects.create(
        **fields, status=StagedUpload.Status.READY, **_parsed_fields(parsed)
    )


def parse_staged_upload(*, staged_id: str) -> StagedUpload | None:
    """Read a staged upload's file in a worker; a second run for the same upload is a no-op."""
    staged = StagedUpload.objects.filter(pk=staged_id, status=StagedUpload.Status.PARSING).first()
    if staged is None or staged.content is None:
        return None
    waiting = StagedUpload.objects.filter(pk=staged_id, status=StagedUpload.Status.PARSING)

    def progress(rows_read: int) -> None:
        waiting.update(rows_read=rows_read)

    try:
        parsed = parse_upload(
            bytes(staged.content), max_rows=settings.BULK_MAX_ROWS, on_progress=progress
        )
    except UploadRejected as rejected:
        waiting.update(
            status=StagedUpload.Status.REJECTED, error_message=rejected.message, content=None
        )
    else:
        waiting.update(status=StagedUpload.Status.READY, content=None, **_parsed_fields(parsed))
    return StagedUpload.objects.filter(pk=staged_id).first()


def submit_staged_upload(*, staged: StagedUpload, user: User) -> BatchJob:
    """Create the job and its rows from a staged upload, once, and wake the engine.

    A second call (a double click, a second tab) returns the job the first one made.
    """
    try:
        return _submit(staged_id=staged.pk, user=user)
    except IntegrityError:
        # Another request attached its job first (the one-to-one refused ours).
        job = BatchJob.objects.filter(staged_upload__pk=staged.pk, user=user).first()
        if job is None:
            raise
        return job


@transaction.atomic
def _submit(*, staged_id, user: User) -> BatchJob:
    # The row lock (and on SQLite the IMMEDIATE transaction) makes a second, concurrent
    # submit wait here and then find the job the first one attached.
    staged = StagedUpload.objects.select_for_update().filter(pk=staged_id, user=user).first()
    if staged is None:
        raise UploadExpired("This upload no longer exists. Upload the file again.")
    if staged.batch_job is not None:
        return staged.batch_job
    if staged.is_expired:
        raise UploadExpired("This upload has expired. Upload the file again to quote it.")
    if staged.status == StagedUpload.Status.PARSING:
        raise UploadNotReady("The file is still being read. Try again in a moment.")
    if staged.status == StagedUpload.Status.REJECTED:
        raise NothingToSubmit(staged.error_message or "This file can't be quoted.")
    valid = staged.rows.get("valid", [])
    if not valid:
        raise NothingToSubmit("No row of this file is valid, so there is nothing to quote.")

    job = BatchJob.objects.create(
        user=user,
        status=BatchJob.Status.PENDING,
        file_name=staged.file_name,
        source_columns=staged.columns,
        notify_email=staged.notify_email,
        speed_mbps=staged.speed_mbps,
        term_months=staged.term_months,
        total_count=len(valid),
    )
    columns = staged.columns
    BatchQuote.objects.bulk_create(
        (
            BatchQuote(
                batch_job=job,
                row_number=row_number,
                street_address=street,
                city=city,
                state=state,
                zip_code=zip_code,
                source_data=dict(zip(columns, cells, strict=False)),
            )
            for row_number, street, city, state, zip_code, cells in valid
        ),
        batch_size=1000,
    )
    attached = StagedUpload.objects.filter(pk=staged.pk, batch_job__isnull=True).update(
        batch_job=job, submitted_at=timezone.now()
    )
    if attached != 1:
        raise IntegrityError("staged upload was submitted concurrently")
    request_dispatch()
    logger.info("upload %s submitted as job %s (%s rows)", staged.pk, job.pk, len(valid))
    return job


def delete_expired_uploads() -> int:
    """Delete staged uploads past their expiry (their jobs stay); return how many."""
    _, by_model = StagedUpload.objects.filter(expires_at__lte=timezone.now()).delete()
    return by_model.get(StagedUpload._meta.label, 0)


def invalid_rows_csv(*, staged: StagedUpload) -> str:
    """The invalid rows as CSV, with the user's columns and an `error` column to fix and
    re-upload; cells a spreadsheet would run as formulas are neutralised."""
    # A re-uploaded file of fixes has its old `error` column; don't stack a second one.
    keep = [i for i, name in enumerate(staged.columns) if name.casefold() != "error"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_neutralise(staged.columns[i]) for i in keep] + ["error"])
    for _row_number, cells, errors in staged.rows.get("invalid", []):
        writer.writerow(
            [_neutralise(cells[i]) if i < len(cells) else "" for i in keep]
            + [_neutralise("; ".join(errors))]
        )
    return out.getvalue()


def invalid_rows_file_name(*, staged: StagedUpload) -> str:
    """`<upload name>-invalid-rows.csv`, safe for a Content-Disposition header."""
    stem = re.sub(r"\.(xlsx|csv|txt)$", "", staged.file_name, flags=re.IGNORECASE)
    stem = re.sub(r"[^\w.-]+", "-", stem).strip("-.") or "upload"
    return f"{stem[:100]}-invalid-rows.csv"


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


def _clean_file_name(file_name: str) -> str:
    name = re.split(r"[\\/]", file_name or "")[-1].strip()
    return (name or "upload")[:255]


def _neutralise(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def _parsed_fields(parsed: ParsedUpload) -> dict:
    """The StagedUpload fields for a parse result: counts, rows and the preview's rows."""
    columns = parsed.columns
    field_columns = parsed.field_columns

    def cells(source: dict[str, str]) -> list[str]:
        return [source.get(name, "") for name in columns]

    def as_typed(source: dict[str, str]) -> dict[str, str]:
        return {name: source.get(field_columns[name], "") for name in FIELDS}

    return {
        "file_format": parsed.file_format,
        "sheet_name": parsed.sheet_name[:100],
        "header_row": parsed.header_row_number,
        "columns": columns,
        "field_columns": field_columns,
        "valid_count": parsed.valid_count,
        "invalid_count": parsed.invalid_count,
        "duplicate_count": parsed.duplicate_count,
        "rows": {
            "valid": [
                [r.row_number, r.street_address, r.city, r.state, r.zip_code, cells(r.source)]
                for r in parsed.valid_rows
            ],
            "invalid": [[r.row_number, cells(r.source), r.errors] for r in parsed.invalid_rows],
            "duplicates": [[r.row_number, r.duplicate_of] for r in parsed.duplicate_rows],
        },
        "preview": {
            "valid": [
                {
                    "row": r.row_number,
                    "street_address": r.street_address,
                    "city": r.city,
                    "state": r.state,
                    "zip_code": r.zip_code,
                }
                for r in parsed.valid_rows[:PREVIEW_VALID_ROWS]
            ],
            "invalid": [
                {"row": r.row_number, "errors": r.errors, **as_typed(r.source)}
                for r in parsed.invalid_rows[:PREVIEW_PROBLEM_ROWS]
            ],
            "duplicates": [
                {"row": r.row_number, "duplicate_of": r.duplicate_of, **as_typed(r.source)}
                for r in parsed.duplicate_rows[:PREVIEW_PROBLEM_ROWS]
            ],
        },
    }
