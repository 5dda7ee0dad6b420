"""Server time and query count of the job page and its htmx fragment on a big job.

    .venv/bin/python benchmarks/dashboard.py --rows 10000 [--database-url URL] [--runs 30]
        [--backlog 50000]

Builds, in a fresh database (a temporary SQLite file unless --database-url is given; that
database is flushed first), a job of N rows part way through its run (40% quoted, 2%
failed, one row in flight, the rest pending, with a Quote per quoted row), two other
active jobs and a finished job of N rows. Then requests each view in-process with
Django's test client, signed in as the owner, with DEBUG off, and prints the median and
worst server time over the runs and the number of SQL queries of one request. Server
time is the whole request through the middleware and template, without a network.
`--backlog N` adds another user's job of N rows waiting their turn, each with its queued
Quote as submission makes it: the fragment should cost the same as with none.
`--compare-backlog N` measures the fragment in one process with none, then with such a
backlog, then with none again (the backlog deleted), rounds of `--runs` requests each
taking turns, so that the load of a shared machine weighs on both alike; it prints each
round's median (and the median time a request spends in its SQL) and the backlog's
medians over the mean of the empty ones.
Targets: at most 10 queries; the fragment under 50 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CARRIERS = ["Lumen", "Zayo", "Cogent", "Spectrum", "Comcast", "Crown Castle", "Verizon"]


def build(rows: int):
    """The owner, the running job and the finished job; other users' jobs alongside."""
    from django.utils import timezone

    from accounts.models import User
    from bulk.models import BatchJob, BatchQuote
    from quotes.models import Lead, Quote

    now = timezone.now()
    owner = User.objects.create_user("owner@example.com", "bench-password-1")
    other = User.objects.create_user("other@example.com", "bench-password-1")

    def job_with_rows(user, count, *, quoted, failed, in_flight, finished=False):
        job = BatchJob.objects.create(
            user=user,
            file_name=f"sites-{count}.xlsx",
            source_columns=["Site", "Street", "City", "State", "Zip"],
            total_count=count,
            status=BatchJob.Status.COMPLETE if finished else BatchJob.Status.PROCESSING,
            started_at=now - timedelta(hours=5),
            finished_at=now if finished else None,
        )
        BatchQuote.objects.bulk_create(
            (
                BatchQuote(
                    batch_job=job,
                    row_number=n + 2,
                    street_address=f"{n + 1} Main St",
                    city="Denver",
                    state="CO",
                    zip_code="80202",
                    source_data={
                        "Site": f"S{n}",
                        "Street": f"{n + 1} Main St",
                        "City": "Denver",
                        "State": "CO",
                        "Zip": "80202",
                    },
                )
                for n in range(count)
            ),
            batch_size=2000,
        )
        lead = Lead.objects.create(user=user, contact_name="Bench", email=user.email)
        priced = list(job.rows.order_by("row_number")[: quoted + failed])
        quotes = Quote.objects.bulk_create(
            (
                Quote(
                    lead=lead,
                    source=Quote.Source.BULK,
                    street_address=row.street_address,
                    city=row.city,
                    state=row.state,
                    zip_code=row.zip_code,
                    status=Quote.Status.COMPLETE if i < quoted else Quote.Status.FAILED,
                    mrc=Decimal(400 + i % 300) if i < quoted else None,
                    nrc=Decimal(250) if i < quoted else None,
                    carrier=CARRIERS[i % len(CARRIERS)] if i < quoted else "",
                    error_message="" if i < quoted else "No coverage at this address.",
                    claimed_at=now - timedelta(seconds=150),
                    completed_at=now,
                )
                for i, row in enumerate(priced)
            ),
            batch_size=2000,
        )
        for i, (row, quote) in enumerate(zip(priced, quotes, strict=True)):
            row.quote = quote
            row.status = BatchQuote.Status.COMPLETE if i < quoted else BatchQuote.Status.FAILED
            row.error_message = quote.error_message
        BatchQuote.objects.bulk_update(priced, ["quote", "status", "error_message"], 2000)
        if in_flight:
            row = job.rows.filter(status=BatchQuote.Status.PENDING).order_by("row_number").first()
            quote = Quote.objects.create(
                lead=lead,
                source=Quote.Source.BULK,
                street_address=row.street_address,
                city=row.city,
                state=row.state,
                zip_code=row.zip_code,
                status=Quote.Status.IN_FLIGHT,
                momentum_slot=0,
                claimed_at=now - timedelta(seconds=40),
            )
            BatchQuote.objects.filter(pk=row.pk).update(
                status=BatchQuote.Status.PROCESSING, quote=quote
            )
            BatchJob.objects.filter(pk=job.pk).update(current_index=row.row_number)
        cancelled = 0
        if finished:
            cancelled = job.rows.filter(status=BatchQuote.Status.PENDING).update(
                status=BatchQuote.Status.CANCELLED
            )
        BatchJob.objects.filter(pk=job.pk).update(
            processed_count=quoted + failed,
            success_count=quoted,
            failed_count=failed,
            cancelled_count=cancelled,
        )
        job.refresh_from_db()
        return job

    running = job_with_rows(
        owner, rows, quoted=rows * 40 // 100, failed=rows * 2 // 100, in_flight=True
    )
    job_with_rows(other, 500, quoted=10, failed=0, in_flight=False)
    job_with_rows(other, 50, quoted=0, failed=0, in_flight=False)
    finished = job_with_rows(
        owner, rows, quoted=rows * 95 // 100, failed=rows * 3 // 100, in_flight=False, finished=True
    )
    return owner, running, finished


def backlog(rows: int) -> None:
    """Another user's job of `rows` rows waiting their turn, each with its queued Quote."""
    from accounts.models import User
    from bulk.models import BatchJob, BatchQuote
    from quotes.models import Lead, Quote

    email = "backlog@example.com"
    user = User.objects.filter(email=email).first() or User.objects.create_user(email, "bench-1")
    job = BatchJob.objects.create(
        user=user, file_name="backlog.csv", source_columns=["Street"], total_count=rows
    )
    lead = Lead.objects.create(user=user, contact_name="Backlog", email=user.email)
    for start in range(0, rows, 5000):
        numbers = range(start, min(start + 5000, rows))
        quotes = Quote.objects.bulk_create(
            Quote(
                lead=lead,
                source=Quote.Source.BULK,
                status=Quote.Status.QUEUED,
                street_address=f"{n + 1} Backlog Rd",
                city="Denver",
                state="CO",
                zip_code="80202",
                address_key=f"{n + 1} BACKLOG RD|DENVER|CO|80202",
            )
            for n in numbers
        )
        BatchQuote.objects.bulk_create(
            BatchQuote(
                batch_job=job,
                row_number=n + 2,
                street_address=quote.street_address,
                city="Denver",
                state="CO",
                zip_code="80202",
                address_key=quote.address_key,
                quote=quote,
            )
            for n, quote in zip(numbers, quotes, strict=True)
        )


def measure(client, url: str, runs: int, **headers) -> tuple[float, float, int, int]:
    """(median ms, worst ms, queries, status) of GET url."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url, **headers)  # warm up: templates compiled, connection open
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url, **headers)
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(url, **headers)
    return statistics.median(times), max(times), len(queries), response.status_code


def sql_ms(client, url: str, runs: int, **headers) -> float:
    """The median over `runs` requests of the time one request spends in its queries."""
    from django.db import connection

    spent: list[float] = []

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent.append((time.perf_counter() - started) * 1000)

    totals = []
    for _ in range(runs):
        spent.clear()
        with connection.execute_wrapper(timed):
            client.get(url, **headers)
        totals.append(sum(spent))
    return statistics.median(totals)


def compare_backlog(client, running, options) -> None:
    """The fragment's median with no backlog and with one, rounds taking turns."""
    from django.db import connection
    from django.urls import reverse

    from bulk.models import BatchJob
    from bulk.selectors import live_marker
    from quotes.models import Quote

    page = reverse("bulk:job", args=[running.pk])
    url, hx = f"{page}?seen={live_marker(job=running)}", {"HTTP_HX_REQUEST": "true"}

    def queued(rows: int) -> None:
        if rows:
            backlog(rows)
        else:
            BatchJob.objects.filter(file_name="backlog.csv").delete()
            Quote.objects.filter(street_address__endswith="Backlog Rd").delete()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    medians: dict[int, list[float]] = {0: [], options.compare_backlog: []}
    print(
        f"{'fragment, no row changed':34} {'median ms':>10} {'worst ms':>9} {'queries':>8} "
        f"{'SQL ms':>8}"
    )
    for _round in range(options.rounds):
        for rows in (0, options.compare_backlog):
            if rows or medians[options.compare_backlog]:
                queued(rows)
            median, worst, queries, _status = measure(client, url, options.runs, **hx)
            medians[rows].append(median)
            sql = sql_ms(client, url, options.runs, **hx)
            print(
                f"{f'{rows:,} rows queued':34} {median:10.1f} {worst:9.1f} {queries:8d} {sql:8.2f}"
            )
    empty = statistics.mean(medians[0])
    with_backlog = statistics.median(medians[options.compare_backlog])
    print(
        f"median of the rounds: {statistics.median(medians[0]):.1f} ms with none, "
        f"{with_backlog:.1f} ms with {options.compare_backlog:,} queued "
        f"({with_backlog / empty:.2f} of the mean with none, {empty:.1f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--backlog", type=int, default=0)
    parser.add_argument("--compare-backlog", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    os.environ.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": "benchmark-only-secret-key-" + "x" * 40,
            "ALLOWED_HOSTS": "testserver",
            "SECURE_SSL_REDIRECT": "false",
            "VAR_DIR": str(work),
            "DATABASE_URL": options.database_url or f"sqlite:///{work / 'bench.sqlite3'}",
            "REDIS_URL": "",
            "EMAIL_URL": "dummymail://",
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    # DEBUG off serves hashed static files, as in production: they need their manifest.
    call_command("collectstatic", interactive=False, verbosity=0)
    started = time.perf_counter()
    owner, running, finished = build(options.rows)
    backlog(options.backlog)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would have, after such a bulk insert
    print(
        f"{connection.vendor}: built a {options.rows:,}-row running job and a finished one "
        f"in {time.perf_counter() - started:.1f} s; {options.backlog:,} rows queued in another "
        f"job; {options.runs} runs each"
    )

    client = Client()
    client.force_login(owner)
    if options.compare_backlog:
        compare_backlog(client, running, options)
        return
    page = reverse("bulk:job", args=[running.pk])
    done = reverse("bulk:job", args=[finished.pk])
    from bulk.selectors import live_marker

    marker = live_marker(job=running)
    hx = {"HTTP_HX_REQUEST": "true"}
    cases = [
        ("job page, running", page, {}),
        ("fragment, no row changed", f"{page}?seen={marker}", hx),
        ("fragment, a row changed", f"{page}?seen=stale", hx),
        ("job page, running, failed rows, page 3", f"{page}?status=failed&page=3", {}),
        ("job page, running, last page", f"{page}?page={options.rows // 50}", {}),
        ("job page, finished, with summary", done, {}),
        ("jobs list", reverse("bulk:jobs"), {}),
    ]
    print(f"{'view':42} {'median ms':>10} {'worst ms':>9} {'queries':>8}")
    for name, url, headers in cases:
        median, worst, queries, status = measure(client, url, options.runs, **headers)
        if status != 200:
            raise SystemExit(f"{name}: answered {status}")
        print(f"{name:42} {median:10.1f} {worst:9.1f} {queries:8d}")


if __name__ == "__main__":
    main()
