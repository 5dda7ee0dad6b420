"""A job's rows at submission: one BatchQuote per uploaded row and speed/term option
(issue 21). A row's own speed and term (its file's Speed and Term columns) is its first
option; the job's other options follow, none asked twice for one row
(`quotes.options.row_options`)."""

from __future__ import annotations

from collections.abc import Iterator

from bulk.models import BatchJob, BatchQuote
from quotes.options import Option, row_options


def job_rows(*, job: BatchJob, valid: list[list], options: list[Option]) -> Iterator[BatchQuote]:
    """The job's BatchQuotes from a staged upload's valid rows, each row's options in
    order (`option` 0, 1, ...), sharing the row's number."""
    for row_number, street, city, state, zip_code, key, cells, *asked in valid:
        speed, term = [*asked, None, None][:2]
        for index, option in enumerate(row_options(options, speed_mbps=speed, term_months=term)):
            yield BatchQuote(
                batch_job=job,
                row_number=row_number,
                option=index,
                street_address=street,
                city=city,
                state=state,
                zip_code=zip_code,
                address_key=key,
                source_data=cells if index == 0 else [],
                speed_mbps=option.speed_mbps,
                term_months=option.term_months,
            )
