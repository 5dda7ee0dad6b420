"""What the API takes and returns. Money is a decimal string ("123.45"), never a float."""

from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from ninja import Schema
from pydantic import Field

JobStatus = Literal["pending", "processing", "complete", "cancelled", "failed"]
RowStatus = Literal["pending", "processing", "complete", "failed", "cancelled"]
UploadStatus = Literal["mapping", "ready", "rejected"]


class Error(Schema):
    detail: str = Field(description="What went wrong, for a person to read.")
    code: str = Field(description="A stable name for the error, for programs.")


class InvalidRow(Schema):
    row: int = Field(description="The row number in the spreadsheet.")
    errors: list[str]
    cells: dict[str, str] = Field(description="The row's cells, by column header.")


class Estimate(Schema):
    rows: int = Field(description="Addresses to quote.")
    ahead: int = Field(description="Quotes from other work before this job's last row.")
    seconds: int = Field(description="Time to quote these rows at the expected pace.")
    pace_seconds: float = Field(description="Seconds a quote takes: measured lately, or typical.")
    measured: bool = Field(description="Whether the pace was measured (else the typical one).")
    finish_at: datetime = Field(description="When the last row is expected priced.")


class DuplicateRow(Schema):
    row: int
    duplicate_of: int = Field(description="The earlier row with the same address.")


class Upload(Schema):
    """A validated upload, waiting to be submitted as a job."""

    id: UUID
    status: UploadStatus = Field(
        description="`mapping`: the address columns could not all be found (`mapping_problem` "
        "says which); choose them with `POST /uploads/{id}/columns`. `ready`: validated, "
        "may be submitted; `rejected`: the file can't be quoted."
    )
    file_name: str
    speed_mbps: int
    term_months: int
    notify_email: bool
    reuse_days: int = Field(description="The reuse window in days (0: reuse off).")
    reusable_count: int = Field(
        description="Valid rows a quote from the reuse window will answer at once."
    )
    columns: list[str] = Field(description="The file's column headers, in order.")
    header_row: int | None = Field(description="The header's row; null: no header row.")
    sheet: str
    mapping: dict[str, str] = Field(
        description="Which column feeds each field (street, unit, city, state, zip, address)."
    )
    mapping_source: str = Field(
        description="`given`, `remembered` (your choice for files like this), `header` "
        "(from the header's names) or `guessed` (from the cells)."
    )
    mapping_problem: str
    estimate: Estimate | None = Field(description="How long quoting the valid rows takes.")
    valid_count: int
    invalid_count: int
    duplicate_count: int
    invalid_rows: list[InvalidRow]
    duplicate_rows: list[DuplicateRow]
    error: str = Field(description="Why a `rejected` upload can't be quoted.")
    expires_at: datetime
    job_id: int | None = Field(description="The job made from this upload, once submitted.")


class Counts(Schema):
    total: int
    succeeded: int
    failed: int
    cancelled: int
    pending: int = Field(description="Rows not quoted yet, including any in flight.")
    processed: int = Field(description="succeeded + failed")
    reused: int = Field(description="Processed rows answered by a recent identical quote.")
    shared: int = Field(description="Processed rows answered by another job's quote in flight.")


class Links(Schema):
    page: str
    results: str
    results_csv: str
    results_xlsx: str
    failed_rows_csv: str


class Job(Schema):
    id: int
    file_name: str
    status: JobStatus
    paused_by_staff: bool = Field(
        description="Staff paused the job: its rows wait until they resume it."
    )
    speed_mbps: int
    term_months: int
    notify_email: bool
    reuse_days: int
    percent_done: int
    counts: Counts
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    links: Links


class RowInFlight(Schema):
    row_number: int
    address: str
    quote_status: str
    at_momentum_since: datetime | None


class JobDetail(Job):
    in_flight: list[RowInFlight]
    elapsed_seconds: int | None
    eta_seconds: int | None = Field(
        description="Estimated seconds until the last row is priced: measured upstream "
        "latency times the rows left here and ahead of them in other work. Null when "
        "finished or before any quote has been priced."
    )
    rows_ahead: int | None = Field(description="Quotes from other work before the last row.")
    upstream_latency_seconds: float | None


class JobPage(Schema):
    count: int
    page: int
    pages: int
    page_size: int
    items: list[Job]


class Row(Schema):
    row_number: int
    street_address: str
    city: str
    state: str
    zip_code: str
    status: RowStatus
    mrc: Decimal | None
    nrc: Decimal | None
    carrier: str
    error: str
    cells: dict[str, str] = Field(description="The row's cells as uploaded, by header.")


class RowPage(Schema):
    count: int
    page: int
    pages: int
    page_size: int
    items: list[Row]
