"""Server time of the results download of a finished job: built on the fly, and served
from the file written when the job ended (issue 19).

    .venv/bin/python benchmarks/results.py --rows 20000 [--format xlsx|csv]
        [--database-url URL] [--runs 10]

Builds, in a fresh database (a temporary SQLite file unless --database-url is given; that
database is flushed first), a finished job made as an upload makes it: a messy sheet of N
rows (benchmarks/upload.py's generator: title rows, blank, invalid and duplicate rows)
staged and submitted, then every row priced (a complete Quote each). Then, in-process with
Django's test client, signed in as the owner, DEBUG off, it requests the XLSX and CSV
results (the whole body read):

- "on the fly": the results file not stored, so the download builds it in the request
  (what main does for every download, and this branch for a job still running);
- `build_job_results`: the task that writes both files when the job ends, and each file's
  part of it;
- "stored": the download of the finished job served from the stored file;
- "failed rows": the failed-rows files (never stored: built in the request); 3 % of the
  quoted rows failed (no coverage).

Run from a tree without `build_job_results` (main before issue 19: copy this script
into it), only the "on the fly" downloads are measured: the "before" figures.

Target: a download of a finished job served from the stored file in under 0.5 s.
"""

from __future__ import annotations

import argparse
import io
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
sys.path.insert(0, str(ROOT / "benchmarks"))

CARRIERS = ["Lumen", "Zayo", "Cogent", "Spectrum", "Comcast", "Crown Castle", "Verizon"]


def finished_job(rows: int, fmt: str, work: Path):
    """The owner and a finished job of `rows` upload rows, every quotable row priced."""
    from django.utils import timezone
    from upload import build_rows, write_file

    from accounts.models import User
    from bulk.models import BatchJob, BatchQuote
    from bulk.services.uploads import stage_upload, submit_staged_upload
    from quotes.models import Lead, Quote

    owner = User.objects.create_user("owner@example.com", "bench-password-1")
    path = work / f"sites.{fmt}"
    write_file(path, fmt, build_rows(rows))
    staged = stage_upload(
        user=owner,
        uploaded_file=io.BytesIO(path.read_bytes()),
        file_name=path.name,
        speed_mbps=100,
        term_months=36,
        notify_email=False,
    )
    job = submit_staged_upload(staged=staged, user=owner)
    done = timezone.now() - timedelta(minutes=5)
    lead = Lead.objects.create(user=owner, contact_name="Bench", email=owner.email)
    priced = list(job.rows.order_by("row_number"))
    quotes = Quote.objects.bulk_create(
        (
            Quote(
                lead=lead,
                source=Quote.Source.BULK,
                street_address=row.street_address,
                city=row.city,
                state=row.state,
                zip_code=row.zip_code,
                status=Quote.Status.COMPLETE,
                mrc=Decimal(400 + i % 300),
                nrc=Decimal(250),
                carrier=CARRIERS[i % len(CARRIERS)],
                claimed_at=done - timedelta(seconds=150),
                completed_at=done,
            )
            for i, row in enumerate(priced)
        ),
        batch_size=2000,
    )
    failed = 0
    for i, (row, quote) in enumerate(zip(priced, quotes, strict=True)):
        row.quote, row.status, row.finished_at = quote, BatchQuote.Status.COMPLETE, done
        if i % 33 == 7:  # about 3 %: no carrier serves the address
            row.status, row.error_message = BatchQuote.Status.FAILED, "No coverage."
            row.failure = BatchQuote.Failure.NO_COVERAGE
            failed += 1
    fields = ["quote", "status", "finished_at", "error_message", "failure"]
    BatchQuote.objects.bulk_update(priced, fields, 2000)
    BatchJob.objects.filter(pk=job.pk).update(
        status=BatchJob.Status.COMPLETE,
        processed_count=len(priced),
        success_count=len(priced) - failed,
        failed_count=failed,
        finished_at=done,
    )
    job.refresh_from_db()
    return owner, job


def download(client, url: str) -> tuple[float, int]:
    """(seconds, bytes) of one GET of url, its whole body read."""
    started = time.perf_counter()
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"{url}: answered {response.status_code}")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return time.perf_counter() - started, len(body)


def timed(runs: int, work) -> tuple[float, float, object]:
    """(median s, worst s, last result) of `runs` calls of work()."""
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), max(times), result


def setup(database_url: str, work: Path) -> None:
    os.environ.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": "benchmark-only-secret-key-" + "x" * 40,
            "ALLOWED_HOSTS": "testserver",
            "SECURE_SSL_REDIRECT": "false",
            "VAR_DIR": str(work),
            "DATABASE_URL": database_url or f"sqlite:///{work / 'bench.sqlite3'}",
            "REDIS_URL": "",
            "EMAIL_URL": "dummymail://",
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    # DEBUG off serves hashed static files, as in production: they need their manifest.
    call_command("collectstatic", interactive=False, verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--format", choices=["xlsx", "csv"], default="xlsx")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--fly-runs", type=int, default=3)
    parser.add_argument("--database-url", default="")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-results-"))
    setup(options.database_url, work)
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from bulk import exports
    from bulk.models import JobSource

    try:
        from bulk.tasks import build_job_results
    except ImportError:  # a tree from before the results were stored (main before issue 19)
        build_job_results = None

    started = time.perf_counter()
    owner, job = finished_job(options.rows, options.format, work)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"{connection.vendor}: a finished job of {job.rows.count():,} rows from a "
        f"{options.rows:,}-row {options.format} upload, built in "
        f"{time.perf_counter() - started:.1f} s"
    )
    client = Client()
    client.force_login(owner)
    urls = {fmt: reverse("bulk:export", args=[job.pk, fmt]) for fmt in ("xlsx", "csv")}
    print(f"{'what':44} {'median s':>9} {'worst s':>8} {'bytes':>11}")

    def line(name: str, median: float, worst: float, size: object = "") -> None:
        print(f"{name:44} {median:9.3f} {worst:8.3f} {size!s:>11}")

    for fmt, url in urls.items():  # nothing stored yet: built in the request
        median, worst, (_s, size) = timed(options.fly_runs, lambda url=url: download(client, url))
        line(f"download {fmt}, on the fly", median, worst, size)
    for fmt, url in urls.items():
        failed = f"{url}?rows=failed"
        median, worst, (_s, size) = timed(options.runs, lambda u=failed: download(client, u))
        line(f"download {fmt}, failed rows", median, worst, size)
    if build_job_results is None:
        return
    median, worst, _ = timed(options.fly_runs, lambda: exports.xlsx_bytes(job=job))
    line("build_job_results: xlsx part", median, worst)
    median, worst, _ = timed(
        options.fly_runs, lambda: "".join(exports.csv_chunks(job=job)).encode("utf-8")
    )
    line("build_job_results: csv part", median, worst)
    median, worst, _ = timed(options.fly_runs, lambda: build_job_results(job.pk))
    line("build_job_results (both, stored)", median, worst)
    if not JobSource.objects.filter(batch_job=job, results_built_at__isnull=False).exists():
        raise SystemExit("the results were not stored")
    for fmt, url in urls.items():
        client.get(url)  # warm up
        median, worst, (_s, size) = timed(options.runs, lambda url=url: download(client, url))
        line(f"download {fmt}, stored", median, worst, size)
        if worst >= 0.5:
            print(f"  target (< 0.5 s) not met for {fmt}")


if __name__ == "__main__":
    main()
