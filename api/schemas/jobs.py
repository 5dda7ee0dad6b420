"""The API's schemas of jobs, their progress and rows (see `api.schemas`)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from django.urls import reverse
from ninja import Schema
from pydantic import Field

from api.schemas.uploads import OptionOut, cells_by_column
from bulk import selectors
from bulk.models import BatchJob, BatchQuote
from bulk.spreadsheets.results import price_source, quote_times
from quotes.models import Quote

JobStatus = Literal["pending", "processing", "complete", "cancelled", "failed"]
RowStatus = Literal["pending", "processing", "complete", "failed", "cancelled"]


class Counts(Schema):
    total: int = Field(validation_alias="total_count")
    succeeded: int = Field(validation_alias="success_count")
    failed: int = Field(
        validation_alias="failed_count", description="Rows not priced, no coverage included."
    )
    no_coverage: int = Field(
        validation_alias="no_coverage_count",
        description="Of the failed rows, those no carrier serves (Momentum's answer).",
    )
    cancelled: int = Field(validation_alias="cancelled_count")
    pending: int = Field(
        validation_alias="pending_count",
        description="Rows not quoted yet, including any in flight.",
    )
    processed: int = Field(validation_alias="processed_count", description="succeeded + failed")
    reused: int = Field(
        validation_alias="reused_count",
        description="Processed rows answered by a recent identical quote.",
    )
    shared: int = Field(
        validation_alias="shared_count",
        description="Processed rows answered by another job's quote in flight.",
    )


# Where a job's page and results are, read from the job.
class Links(Schema):
    page: str
    results: str
    results_csv: str
    results_xlsx: str
    failed_rows_csv: str

    @staticmethod
    def resolve_page(job: BatchJob) -> str:
        return reverse("bulk:job", args=[job.pk])

    @staticmethod
    def resolve_results(job: BatchJob) -> str:
        return reverse("api:job_results", args=[job.pk])

    @staticmethod
    def resolve_results_csv(job: BatchJob) -> str:
        return reverse("api:job_results_csv", args=[job.pk])

    @staticmethod
    def resolve_results_xlsx(job: BatchJob) -> str:
        return reverse("api:job_results_xlsx", args=[job.pk])

    @staticmethod
    def resolve_failed_rows_csv(job: BatchJob) -> str:
        return reverse("api:job_results_csv", args=[job.pk]) + "?rows=failed"


class Job(Schema):
    id: int
    name: str = Field(
        validation_alias="title", description="The job's name: the file name until renamed."
    )
    file_name: str
    status: JobStatus
    paused_by_staff: bool = Field(
        validation_alias="is_paused",
        description="Staff paused the job: its rows wait until they resume it.",
    )
    speed_mbps: int
    term_months: int
    options: list[OptionOut] = Field(
        validation_alias="option_list",
        description="The speed/term options asked for every address, the first being "
        "speed_mbps/term_months; each is its own quote and its own item in the results.",
    )
    notify_email: bool
    reuse_days: int
    need_by: datetime | None
    time_zone: str = Field(
        description="The IANA zone the job's results state times in (its owner's "
        "when it was submitted): rows' quoted_at and valid_until carry its offset.",
    )
    percent_done: int
    counts: Counts
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    links: Links

    @staticmethod
    def resolve_time_zone(job: BatchJob) -> str:
        return job.zone.key

    # Counts and Links read the job's own fields.
    @staticmethod
    def resolve_counts(job: BatchJob) -> BatchJob:
        return job

    @staticmethod
    def resolve_links(job: BatchJob) -> BatchJob:
        return job


class RowInFlight(Schema):
    row_number: int
    address: str
    quote_status: str
    at_momentum_since: datetime | None

    @staticmethod
    def resolve_address(row: BatchQuote) -> str:
        return f"{row.street_address}, {row.city}, {row.state} {row.zip_code}"

    @staticmethod
    def resolve_quote_status(row: BatchQuote) -> str:
        return row.quote.status if row.quote else "pending"

    @staticmethod
    def resolve_at_momentum_since(row: BatchQuote) -> datetime | None:
        return row.quote.claimed_at if row.quote else None


@dataclass(frozen=True)
class JobWithProgress:
    """A job and its progress (`bulk.selectors.job_progress`), answered as one `JobDetail`:
    the job's own fields are read through to the job."""

    job: BatchJob
    progress: selectors.JobProgress

    def __getattr__(self, name: str) -> Any:
        # Reached only for a name the dataclass lacks. Not for private and special names:
        # copy and pickle look those up on an instance that has no job yet.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.job, name)


# A job with its row in flight and its ETA, read from a `JobWithProgress`.
class JobDetail(Job):
    in_flight: list[RowInFlight]
    elapsed_seconds: int | None
    eta_seconds: int | None = Field(
        description="Estimated seconds until the last row is priced: the line's pace (the "
        "slot's turnover) times the rows left here and ahead of them in other work. Null "
        "when finished, or while held (`held` says why)."
    )
    eta_low_seconds: int | None = Field(description="The estimate's range, low end.")
    eta_high_seconds: int | None = Field(description="The estimate's range, high end.")
    held: str | None = Field(
        description="Why time left does not count down: `paused by staff`, or `waiting "
        "for Momentum since 14:05`. Null while the line moves."
    )
    rows_ahead: int | None = Field(description="Quotes from other work before the last row.")
    upstream_latency_seconds: float | None = Field(
        description="The line's pace: seconds per quote (the slot's turnover)."
    )
    retryable: int = Field(
        description="Failed rows a retry may change (timed out, Momentum unavailable); "
        "no coverage and rejected addresses are Momentum's answer and stay."
    )

    @staticmethod
    def resolve_retryable(detail: JobWithProgress) -> int:
        return detail.progress.retryable

    @staticmethod
    def resolve_eta_low_seconds(detail: JobWithProgress) -> int | None:
        finish = detail.progress.finish
        return None if finish is None else _seconds(finish.low)

    @staticmethod
    def resolve_eta_high_seconds(detail: JobWithProgress) -> int | None:
        finish = detail.progress.finish
        return None if finish is None else _seconds(finish.high)

    @staticmethod
    def resolve_held(detail: JobWithProgress) -> str | None:
        held = detail.progress.held
        return None if held is None else held.text

    @staticmethod
    def resolve_in_flight(detail: JobWithProgress) -> list[BatchQuote]:
        return detail.progress.in_flight

    @staticmethod
    def resolve_elapsed_seconds(detail: JobWithProgress) -> int | None:
        return _seconds(detail.progress.elapsed)

    @staticmethod
    def resolve_eta_seconds(detail: JobWithProgress) -> int | None:
        return _seconds(detail.progress.eta)

    @staticmethod
    def resolve_rows_ahead(detail: JobWithProgress) -> int | None:
        return detail.progress.rows_ahead

    @staticmethod
    def resolve_upstream_latency_seconds(detail: JobWithProgress) -> float | None:
        latency = detail.progress.latency
        return None if latency is None else round(latency.total_seconds(), 1)


class JobPage(Schema):
    count: int
    page: int
    pages: int
    page_size: int
    items: list[Job]


class Row(Schema):
    row_number: int
    option: int = Field(
        0,
        description="Which of the job's options this is (0: the first). An address asked "
        "at several options has one item per option, sharing its row_number; `cells` are "
        "on its first.",
    )
    speed_mbps: int = Field(description="The speed this row is quoted at.")
    term_months: int = Field(description="The term this row is quoted at.")
    street_address: str
    city: str
    state: str
    zip_code: str
    status: RowStatus
    outcome: str = Field(
        description="What the row came to: Priced, No coverage, Rejected, Timed out, "
        "Unavailable, Cancelled, In flight or Pending."
    )
    mrc: Decimal | None
    nrc: Decimal | None
    carrier: str
    error: str = Field(validation_alias="error_message")
    cells: dict[str, str] = Field(description="The row's cells as uploaded, by header.")
    quoted_at: datetime | None = Field(
        None,
        description="When the price was quoted, ISO 8601 with the offset of the job's "
        "zone: the owner's, the one its results files name in their 'Quoted at' header.",
    )
    valid_until: datetime | None = Field(None, description="Until when the price holds.")
    price_source: str = Field("", description="fresh, reused from a quote of <date>, or shared.")

    @staticmethod
    def resolve_quoted_at(row: BatchQuote) -> datetime | None:
        return quote_times(_priced(row), row.batch_job.zone)[0]

    @staticmethod
    def resolve_valid_until(row: BatchQuote) -> datetime | None:
        return quote_times(_priced(row), row.batch_job.zone)[1]

    @staticmethod
    def resolve_price_source(row: BatchQuote) -> str:
        quote = _priced(row)
        return price_source(quote, row.batch_job.zone) if quote else ""

    @staticmethod
    def resolve_mrc(row: BatchQuote) -> Decimal | None:
        quote = _priced(row)
        return quote.mrc if quote else None

    @staticmethod
    def resolve_nrc(row: BatchQuote) -> Decimal | None:
        quote = _priced(row)
        return quote.nrc if quote else None

    @staticmethod
    def resolve_carrier(row: BatchQuote) -> str:
        quote = _priced(row)
        return quote.carrier if quote else ""

    @staticmethod
    def resolve_cells(row: BatchQuote) -> dict[str, str]:
        # A job's rows are read through job.rows, which gives each its job without a query.
        return cells_by_column(row.batch_job.source_columns, row.source_data or {})


class RowPage(Schema):
    count: int
    page: int
    pages: int
    page_size: int
    items: list[Row]


def _seconds(span: timedelta | None) -> int | None:
    return None if span is None else int(span.total_seconds())


def _priced(row: BatchQuote) -> Quote | None:
    # A row's quote has its price only once the row is complete.
    return row.quote if row.status == BatchQuote.Status.COMPLETE else None
