"""A bulk job, its rows and events (jobs), and what users upload (uploads)."""

from bulk.models.jobs import (  # noqa: F401
    DEFAULT_SPEED_MBPS,
    DEFAULT_TERM_MONTHS,
    SPEEDS_MBPS,
    TERMS_MONTHS,
    BatchJob,
    BatchJobEvent,
    BatchJobQuerySet,
    BatchQuote,
    BatchQuoteQuerySet,
    row_outcome,
)
from bulk.models.uploads import ColumnMapping, JobSource, StagedUpload  # noqa: F401
