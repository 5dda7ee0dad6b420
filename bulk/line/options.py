"""What several speed/term options cost in the line (issue 21): options x addresses
quotes, and, breadth first (`order.ROW_ORDER`), how soon every site has its first price.

The preview, `submit_batch` and the job page say it the same way: "2 options x 120
addresses = 240 quotes, about 10 h; first prices for every site in about 5 h".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bulk.line import Line, expected_finish
from bulk.models import BatchJob, BatchQuote
from config.time_tags import duration


@dataclass(frozen=True)
class OptionsCost:
    options: int
    addresses: int
    quotes: int
    # Until the last quote, and until every site's first option, is priced.
    time_left: timedelta
    first_prices_in: timedelta

    @property
    def text(self) -> str:
        return (
            f"{self.options} options \u00d7 {self.addresses:,} address"
            f"{'es' if self.addresses != 1 else ''} = {self.quotes:,} quotes, about "
            f"{duration(self.time_left)}; first prices for every site in about "
            f"{duration(self.first_prices_in)}"
        )


def upload_options_cost(
    line: Line, *, addresses: int, options: int, reusable: int = 0
) -> OptionsCost | None:
    """A new job of `addresses` rows at `options` options each (`reusable` of its first
    options answered at once); None for one option."""
    if options < 2:
        return None
    first = max(addresses - reusable, 0)
    return OptionsCost(
        options=options,
        addresses=addresses,
        quotes=addresses * options,
        time_left=expected_finish(line, rows=addresses * options - reusable).time_left,
        first_prices_in=expected_finish(line, rows=first).time_left,
    )


def job_options_cost(line: Line, *, job: BatchJob) -> OptionsCost | None:
    """A job in line with several options: its quotes, its time left, and how soon every
    site has its first price (none left: already)."""
    options = len(job.option_list)
    if options < 2:
        return None
    pending = job.rows.filter(status=BatchQuote.Status.PENDING)
    first_left = pending.filter(option=0).count()
    everything = line.eta_for(job)
    first = (
        expected_finish(line, rows=first_left, priority=job.priority, job_id=job.pk).time_left
        if first_left
        else timedelta()
    )
    return OptionsCost(
        options=options,
        addresses=job.rows.filter(option=0).count(),
        quotes=job.total_count,
        time_left=everything.time_left if everything is not None else timedelta(),
        first_prices_in=first,
    )
