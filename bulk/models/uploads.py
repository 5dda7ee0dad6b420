"""What a user uploaded: a staged upload (read, not yet a job), the column mappings a user
keeps, and a job's source file."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from bulk.models.jobs import BatchJob
from quotes.models import DEFAULT_SPEED_MBPS, DEFAULT_TERM_MONTHS
from quotes.options import Option, asked_options


class StagedUpload(models.Model):
    """A parsed upload held on the server between its preview and its submission.

    The browser never re-posts the rows: the preview and the submit name this record.
    It expires, and submitting it twice gives the same job (`batch_job` is set once).
    """

    class Status(models.TextChoices):
        MAPPING = "mapping", "Needs its columns chosen"
        READY = "ready", "Ready"
        REJECTED = "rejected", "Rejected"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staged_uploads"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.READY)
    file_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=4, blank=True)
    speed_mbps = models.PositiveIntegerField(default=DEFAULT_SPEED_MBPS)
    term_months = models.PositiveSmallIntegerField(default=DEFAULT_TERM_MONTHS)
    # The speed/term options asked for each address, as BatchJob.options.
    options = models.JSONField(default=list, blank=True)
    notify_email = models.BooleanField(default=True)
    reuse_days = models.PositiveSmallIntegerField(default=30)
    # When the customer needs the prices by (None: no need-by). A job that would
    # otherwise miss it is served ahead of round-robin (docs/architecture.md, "Need by").
    need_by = models.DateTimeField(null=True, blank=True)
    # The uploaded bytes, kept until the upload is submitted, to read again with other
    # columns chosen.
    content = models.BinaryField(null=True, blank=True, editable=False)
    error_message = models.TextField(blank=True)

    sheet_name = models.CharField(max_length=100, blank=True)
    sheet_names = models.JSONField(default=list, blank=True)
    # None: the file has no header row.
    header_row = models.PositiveIntegerField(null=True, blank=True)
    columns = models.JSONField(default=list, blank=True)
    # The header's cells, typed as in the file, for the results.
    header_cells = models.JSONField(null=True, blank=True)
    # Address field name to the user's column that feeds it.
    field_columns = models.JSONField(default=dict, blank=True)
    # ColumnMap.as_json() (bulk.spreadsheets.mapping), where it came from, and why it is
    # not complete.
    mapping = models.JSONField(default=dict, blank=True)
    mapping_source = models.CharField(max_length=12, blank=True)
    mapping_problem = models.TextField(blank=True)
    # The layout's identity, to remember the user's choice of columns by.
    signature = models.CharField(max_length=64, blank=True)
    # The first rows as text, to tell the columns apart in the mapping step.
    samples = models.JSONField(default=list, blank=True)
    valid_count = models.PositiveIntegerField(default=0)
    invalid_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    # Every parsed row, compact (cells as lists in `columns` order); see services.uploads.
    rows = models.JSONField(default=dict, blank=True)
    # The few rows the preview page shows, so that it never loads `rows`.
    preview = models.JSONField(default=dict, blank=True)

    batch_job = models.OneToOneField(
        BatchJob,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="staged_upload",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Upload {self.pk}: {self.file_name}"

    @property
    def option_list(self) -> list[Option]:
        """The speed/term options asked for each address, the first one first."""
        return asked_options(self.options, speed_mbps=self.speed_mbps, term_months=self.term_months)

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_submitted(self) -> bool:
        return self.batch_job_id is not None


class ColumnMapping(models.Model):
    """A user's choice of columns for one layout of file, applied to their next such file.

    The signature is the header's names (bulk.spreadsheets.mapping.header_signature) or,
    for a file with no header, its width and which columns hold numbers.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="column_mappings"
    )
    signature = models.CharField(max_length=64)
    mapping = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "signature"], name="columnmapping_unique")
        ]

    def __str__(self) -> str:
        return f"Columns {self.signature} for {self.user_id}"


class JobSource(models.Model):
    """The uploaded sheet as read, beyond the rows being quoted: its header and the rows
    that were not (invalid, duplicates), so the results give back the whole file."""

    batch_job = models.OneToOneField(BatchJob, on_delete=models.CASCADE, related_name="source")
    file_format = models.CharField(max_length=4, blank=True)
    sheet_name = models.CharField(max_length=100, blank=True)
    header_row = models.PositiveIntegerField(null=True, blank=True)
    # The header's cells as typed in the file; None for a file with no header.
    header = models.JSONField(null=True, blank=True)
    mapping = models.JSONField(default=dict, blank=True)
    invalid_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    # Short reason to the number of invalid rows it made ("ZIP and state disagree": 3).
    skipped_reasons = models.JSONField(default=dict, blank=True)
    # {"invalid": [[row, cells, errors]], "duplicates": [[row, first row, cells]]}
    rows = models.JSONField(default=dict, blank=True)
    # The uploaded bytes (within the upload size limit), so that the results are the
    # user's own file, row for row; deleted with the job.
    content = models.BinaryField(null=True, blank=True, editable=False)
    # The results files, written once when the job ends (bulk.tasks.build_job_results);
    # served only while no row changed after `results_built_at` (bulk.exports).
    results_xlsx = models.BinaryField(null=True, blank=True, editable=False)
    results_csv = models.BinaryField(null=True, blank=True, editable=False)
    results_built_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Sheet of job {self.batch_job_id}"

    @property
    def skipped_count(self) -> int:
        return self.invalid_count + self.duplicate_count
