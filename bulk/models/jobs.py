"""A bulk job, its rows (each a row of the user's file), and the events staff and owners read."""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from accounts.zones import zone_or_site
from quotes.models import (  # noqa: F401 (a job's choices are a quote's)
    DEFAULT_SPEED_MBPS,
    DEFAULT_TERM_MONTHS,
    SPEEDS_MBPS,
    TERMS_MONTHS,
)
from quotes.options import Option, asked_options


class BatchJobQuerySet(models.QuerySet):
    def open(self) -> "BatchJobQuerySet":
        return self.filter(status__in=BatchJob.OPEN_STATUSES)

    def in_service_order(self) -> "BatchJobQuerySet":
        """Open, unpaused jobs in the order the engine serves them: staff priority first
        (front of the line), then round-robin (the job served longest ago)."""
        return (
            self.open()
            .filter(paused_at__isnull=True)
            .order_by(F("priority").desc(), F("last_served_at").asc(nulls_first=True), "pk")
        )


class BatchJob(models.Model):
    """One uploaded spreadsheet and the quoting of its valid rows."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        COMPLETE = "complete", "Complete"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    FINISHED_STATUSES = (Status.COMPLETE, Status.CANCELLED, Status.FAILED)
    OPEN_STATUSES = (Status.PENDING, Status.PROCESSING)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="batch_jobs"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    file_name = models.CharField(max_length=255)
    # What the owner calls the job; the file name until they rename it.
    name = models.CharField(max_length=255, blank=True)
    # The uploaded file's header, in order, for exports with the user's own columns.
    source_columns = models.JSONField(default=list, blank=True)
    notify_email = models.BooleanField(default=True)
    speed_mbps = models.PositiveIntegerField(default=1000)
    term_months = models.PositiveSmallIntegerField(default=36)
    # The speed/term options asked for each address, in order (Option.as_json), the first
    # being speed_mbps/term_months; empty: that one alone (quotes.options, issue 21).
    options = models.JSONField(default=list, blank=True)
    # A row takes the answer of an identical quote finished within this many days instead
    # of asking Momentum (0: never). Defaults to QUOTE_REUSE_DAYS.
    reuse_days = models.PositiveSmallIntegerField(default=30)
    # When the customer needs the prices by (None: no need-by). A job that would
    # otherwise miss it is served ahead of round-robin (docs/architecture.md, "Need by").
    need_by = models.DateTimeField(null=True, blank=True)
    # The zone the results state their times in: the owner's when the job was made.
    time_zone = models.CharField(max_length=64, blank=True)
    # The one contact every row's quote is requested for, made at submission.
    lead = models.ForeignKey(
        "quotes.Lead", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    total_count = models.PositiveIntegerField(default=0)
    processed_count = models.PositiveIntegerField(default=0)
    success_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    # Of the failed rows: no carrier serves the address (Momentum's answer, not an error).
    no_coverage_count = models.PositiveIntegerField(default=0)
    cancelled_count = models.PositiveIntegerField(default=0)
    # Of the processed rows: answered from a recent identical quote, or from a quote
    # another row had in flight for the same address (no Momentum quote of their own).
    reused_count = models.PositiveIntegerField(default=0)
    shared_count = models.PositiveIntegerField(default=0)
    # Row number of the row most recently started.
    current_index = models.PositiveIntegerField(default=0)
    error_message = models.TextField(blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Round-robin across jobs: the job served longest ago goes next.
    last_served_at = models.DateTimeField(null=True, blank=True)
    # The completion email: claimed in the transaction that finishes the job, then a
    # sender takes it (notification_started_at), sends, and marks it sent. The sweeper
    # gives a send that never got marked to another sender after BULK_EMAIL_RESEND_AFTER.
    notified_at = models.DateTimeField(null=True, blank=True)
    notification_started_at = models.DateTimeField(null=True, blank=True)
    notification_sent_at = models.DateTimeField(null=True, blank=True)
    # Which end of the job the email is about (a retry or resume starts a new round);
    # with the job's id it makes the email's stable Message-ID.
    notification_round = models.PositiveIntegerField(default=0)
    # Staff's place in the line: higher goes first (front), lower last (back); jobs of
    # one priority share the slot round-robin.
    priority = models.IntegerField(default=0)
    # A job paused by staff is skipped by the engine; its owner sees "paused by staff".
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # When the owner and ADMINS were told the job will miss its need-by (once).
    need_by_warned_at = models.DateTimeField(null=True, blank=True)
    # The line's time left for the job as it was submitted (bulk.line.submit_estimate),
    # which the completion email sets against what it took.
    estimate_at_submit = models.DurationField(null=True, blank=True)

    objects = BatchJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(processed_count=F("success_count") + F("failed_count")),
                name="batchjob_processed_is_success_plus_failed",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="batchjob_user_created"),
            models.Index(fields=["status", "last_served_at"], name="batchjob_status_served"),
        ]

    def __str__(self) -> str:
        return f"Job {self.pk}: {self.title}"

    @property
    def title(self) -> str:
        """The job's name, or its file name for a job never named."""
        return self.name or self.file_name

    @property
    def zone(self) -> ZoneInfo:
        """The zone its results state times in (named in their "Quoted at" header)."""
        return zone_or_site(self.time_zone)

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED_STATUSES

    @property
    def option_list(self) -> list[Option]:
        """The speed/term options asked for each address, the first one first."""
        return asked_options(self.options, speed_mbps=self.speed_mbps, term_months=self.term_months)

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None and not self.is_finished

    @property
    def other_failed_count(self) -> int:
        """Failed rows other than no coverage: what the pages call "Failed"."""
        return self.failed_count - self.no_coverage_count

    @property
    def pending_count(self) -> int:
        return self.total_count - self.processed_count - self.cancelled_count

    @property
    def taken_summary(self) -> str:
        """ "4 rows reused from recent quotes, 2 shared with other jobs' quotes", or ""."""
        parts = []
        if self.reused_count:
            rows = "row" if self.reused_count == 1 else "rows"
            parts.append(f"{self.reused_count:,} {rows} reused from recent quotes")
        if self.shared_count:
            rows = "row" if self.shared_count == 1 else "rows"
            parts.append(f"{self.shared_count:,} {rows} shared with other jobs' quotes")
        return ", ".join(parts)

    @property
    def percent_done(self) -> int:
        """Rows quoted or failed, of all rows: cancelled rows were never quoted, so a job
        cancelled half-way says 50%, not 100%."""
        if not self.total_count:
            return 100
        return int(100 * self.processed_count / self.total_count)

    @property
    def percent_cancelled(self) -> int:
        if not self.total_count:
            return 0
        # The bar's second segment: together the two never pass what is really settled.
        settled = int(100 * (self.processed_count + self.cancelled_count) / self.total_count)
        return settled - self.percent_done


class BatchQuoteQuerySet(models.QuerySet):
    def pending(self) -> "BatchQuoteQuerySet":
        return self.filter(status=BatchQuote.Status.PENDING)

    def terminal(self) -> "BatchQuoteQuerySet":
        return self.filter(status__in=BatchQuote.TERMINAL_STATUSES)

    def retryable(self) -> "BatchQuoteQuerySet":
        """Failed rows a retry may change: not Momentum's answer about the address."""
        failed = self.filter(status=BatchQuote.Status.FAILED)
        return failed.exclude(failure__in=BatchQuote.PERMANENT_FAILURES)


class BatchQuote(models.Model):
    """One valid row of an upload; row_number is the row the user sees in the sheet."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        COMPLETE = "complete", "Complete"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Failure(models.TextChoices):
        # Momentum's answers about the address: a retry repeats them.
        NO_COVERAGE = "no_coverage", "No coverage"
        REJECTED = "rejected", "Rejected"
        # Ours or Momentum's time ran out, or Momentum could not be reached: a retry may work.
        TIMED_OUT = "timed_out", "Timed out"
        UNAVAILABLE = "unavailable", "Unavailable"

    TERMINAL_STATUSES = (Status.COMPLETE, Status.FAILED, Status.CANCELLED)
    PERMANENT_FAILURES = (Failure.NO_COVERAGE, Failure.REJECTED)

    # Indexed by the Meta's indexes and constraint, which all lead with it.
    batch_job = models.ForeignKey(
        BatchJob, on_delete=models.CASCADE, related_name="rows", db_index=False
    )
    quote = models.OneToOneField(
        "quotes.Quote", null=True, blank=True, on_delete=models.SET_NULL, related_name="batch_row"
    )
    row_number = models.PositiveIntegerField()
    # Which of its job's options this is (0: the first); one BatchQuote per row and option.
    option = models.PositiveSmallIntegerField(default=0)
    street_address = models.CharField(max_length=200)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=2)
    zip_code = models.CharField(max_length=10)
    # The address in USPS form ("300 STATE ST||BOSTON|MA|02109"): one address however it
    # was spelled (quotes.addresses.NormalisedAddress.key), for duplicates and reuse.
    address_key = models.CharField(max_length=400, blank=True)
    # The speed and term this row is quoted at: its own (the file's Speed and Term
    # columns) or its job's.
    speed_mbps = models.PositiveIntegerField(default=DEFAULT_SPEED_MBPS)
    term_months = models.PositiveSmallIntegerField(default=DEFAULT_TERM_MONTHS)
    # The row's cells as uploaded, typed (bulk.spreadsheets.cells.encode_cell), for exports.
    # Jobs made before typed cells hold a dict of column name to text.
    source_data = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    error_message = models.TextField(blank=True)
    failure = models.CharField(max_length=12, choices=Failure.choices, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = BatchQuoteQuerySet.as_manager()

    class Meta:
        ordering = ["batch_job", "row_number", "option"]
        constraints = [
            models.UniqueConstraint(
                fields=["batch_job", "row_number", "option"], name="batchquote_unique_row_option"
            ),
        ]
        indexes = [
            models.Index(
                fields=["batch_job", "status", "row_number"], name="batchquote_job_status_row"
            ),
            # The next row breadth first: every address's first option before any second.
            models.Index(
                fields=["batch_job", "status", "option", "row_number"],
                name="batchquote_job_status_option",
            ),
        ]

    def __str__(self) -> str:
        return f"Row {self.row_number} of job {self.batch_job_id}"

    @property
    def outcome(self) -> str:
        """What the row came to, as the pages, email, API and results name it."""
        return row_outcome(status=self.status, failure=self.failure)


def row_outcome(*, status: str, failure: str) -> str:
    """What a row with this status and failure came to ("Priced", "No coverage", ...): a
    row's `outcome`, for a download that reads rows as values."""
    if status == BatchQuote.Status.FAILED:
        # "Failed": a row that failed before `failure` existed.
        return str(dict(BatchQuote.Failure.choices).get(failure, failure)) or "Failed"
    named = {BatchQuote.Status.COMPLETE: "Priced", BatchQuote.Status.PROCESSING: "In flight"}
    return named.get(status) or str(dict(BatchQuote.Status.choices).get(status, status))


class BatchJobEvent(models.Model):
    """What happened to a job and who did it (cancel, retry, staff repairs, emails)."""

    batch_job = models.ForeignKey(BatchJob, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    action = models.CharField(max_length=40)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.action} on job {self.batch_job_id}"
