"""What one bulk row costs the engine in-process: SQL statements and time, without workers.

    python benchmarks/row_cost.py --rows 300 [--database-url URL]

Makes a job of N rows (as an upload would: every row's Quote at submission), then for
each row does what the chain does around Momentum: `dispatch_next` (pick the row, open
it, claim the slot) and `record_outcome` (finish the quote, record the row, its counters
and the job's end), in this process, with no HTTP and no broker round trip (the chain's
messages go to a throwaway filesystem broker). Prints statements and milliseconds per
row. Statement counts do not depend on the machine's load; times do.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup(database_url: str | None, work: Path) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "VAR_DIR": str(work / "var"),
            "DATABASE_URL": database_url or f"sqlite:///{work / 'bench.sqlite3'}",
            "EMAIL_URL": "dummymail://",
            "DEBUG": "false",
            "SECRET_KEY": "benchmark-only-secret-key-" + "x" * 40,
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)


def priced_outcome():
    try:
        from quotes.outcomes import Outcome
    except ImportError:  # the tree before issue 17
        from quotes.services.lifecycle import Outcome
    return Outcome(status="complete", mrc="100.00", nrc="0.00", carrier="Bench")


def measure(rows: int) -> tuple[list[int], list[float]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from engine import services as engine
    from quotes.models import Quote
    from tests.harness import create_job

    user = User.objects.create_user(email="bench@example.com", password="x" * 12)
    job = create_job(user=user, rows=rows)
    outcome = priced_outcome()
    statements, times = [], []
    for _ in range(rows):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            quote = engine.dispatch_next()
            Quote.objects.filter(pk=quote.pk).update(status=Quote.Status.IN_FLIGHT)
            engine.record_outcome(quote_id=quote.pk, outcome=outcome)
            times.append(time.perf_counter() - started)
        # The status update above stands in for the submit; it is not the engine's.
        statements.append(len(queries) - 1)
    job.refresh_from_db()
    if job.success_count != rows:
        raise SystemExit(f"only {job.success_count} of {rows} rows were priced")
    return statements, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-row-cost-") as work:
        setup(options.database_url, Path(work))
        statements, times = measure(options.rows)
    print(f"rows: {options.rows}")
    print(f"statements per row: median {statistics.median(statements)}, max {max(statements)}")
    print(f"ms per row: median {statistics.median(times) * 1000:.2f}, "
          f"mean {statistics.fmean(times) * 1000:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
