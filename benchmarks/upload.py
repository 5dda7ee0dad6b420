"""Time reading, validating and normalising a bulk upload, and report its peak memory.

    .venv/bin/python benchmarks/upload.py --rows 20000 --format xlsx
    .venv/bin/python benchmarks/upload.py --rows 20000 --format xlsx --distinct-streets
    .venv/bin/python benchmarks/upload.py --rows 20000 --format csv --distinct-zips
    .venv/bin/python benchmarks/upload.py --rows 20000 --distinct-zips --submit \
        --database-url postgres://postgres@127.0.0.1:5432/bq_bench

Builds a messy spreadsheet of N address rows (title rows above the header, odd header
names, numeric ZIPs that lost their leading zero, state names spelled out, blank,
invalid and duplicate rows), then parses it in a fresh child process so that the time
and peak RSS are the parser's alone (interpreter, calamine, the address libraries and
their first use included), not the generator's. Every valid row is checked against the
ZIP table and normalised to USPS form (usaddress-scourgify). `--distinct-streets` gives
every row its own street name, the worst case for the normaliser's cache of streets.
`--distinct-zips` takes each row's ZIP, city and state from a real entry of the `zipcodes`
package's data (about four in five rows have a ZIP of their own), as a national list
does, the worst case for the ZIP table.
`--submit` then stages the file and submits it as a job, in a fresh database (a temporary
SQLite file unless --database-url is given; that database is flushed first), and prints
the submission's time and SQL statements.
`--isolated` reads the file as the portal does, in a child process within the default
read limits (bulk.spreadsheets.isolated); "again" is a second read of the same file (the
forkserver is up, the address libraries warm).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = ["Site ID", "Service Address", "Town", "ST", "Zip Code", "Notes"]
STREETS = ["Main St", "Elm Street", "Harbor Blvd", "Oak Ave", "Congress St", "1st Ave"]
PLACES = [
    ("Boston", "Massachusetts", 2134),
    ("Newark", "NJ", 7102),
    ("Portland", "maine", 4101),
    ("Austin", "TX", 78701),
    ("Seattle", "wa", 98101),
    ("Hartford", "Connecticut", 6103),
]


WORDS = ["Oak", "Maple", "Cedar", "Harbor", "Mill", "Bridge", "Lake", "Hill", "Park", "Stone"]
SUFFIXES = ["Street", "St", "Avenue", "Ave", "Road", "Blvd", "Lane", "Drive"]


def real_places(count: int, rng: random.Random) -> list[tuple[str, str, int]]:
    """`count` (city, state, ZIP) triples of the package's standard, active ZIPs."""
    import zipcodes

    known = [
        (entry["city"], entry["state"], int(entry["zip_code"]))
        for entry in zipcodes.list_all()
        if entry["active"] and entry["zip_code_type"] == "STANDARD"
    ]
    return [rng.choice(known) for _ in range(count)]


def build_rows(
    count: int, seed: int = 5, distinct: bool = False, distinct_zips: bool = False
) -> list[list[object]]:
    """N data rows: mostly valid, ~1% blank, ~2% invalid, ~2% duplicates."""
    rng = random.Random(seed)
    places = real_places(count, random.Random(seed)) if distinct_zips else None
    rows: list[list[object]] = []
    for i in range(count):
        roll = rng.random()
        city, state, zip_code = places[i] if places else rng.choice(PLACES)
        if distinct:
            # A street name of its own: "Oak Maple Cedar Street", numbered by row.
            name = " ".join(WORDS[int(d)] for d in f"{i:05d}")
            street = f"{rng.randint(1, 9999)} {name} {rng.choice(SUFFIXES)}"
        else:
            street = f"{i + 1} {rng.choice(STREETS)}"
        if roll < 0.01:
            rows.append([None] * len(HEADER))
            continue
        if roll < 0.02:
            rows.append([f"S{i}", street, city, "Atlantis", zip_code, ""])
            continue
        if roll < 0.03:
            rows.append([f"S{i}", "", city, state, "ABCDE", ""])
            continue
        if roll < 0.05 and rows and rows[-1][1]:
            rows.append(list(rows[-1]))
            continue
        zip_value: object = zip_code if roll < 0.5 else f"{zip_code:05d}-{rng.randint(0, 9999):04d}"
        rows.append([f"S{i}", street, city, state, zip_value, "Suite 100" if roll > 0.9 else ""])
    return rows


def write_file(path: Path, fmt: str, rows: list[list[object]]) -> None:
    title = [["Acme Corp locations"], ["Exported 2026-11-01"], []]
    if fmt == "xlsx":
        import openpyxl

        workbook = openpyxl.Workbook(write_only=True)
        sheet = workbook.create_sheet("Locations")
        for line in [*title, HEADER, *rows]:
            sheet.append(line)
        workbook.save(path)
        return
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    for line in [*title, HEADER, *rows]:
        writer.writerow(["" if v is None else v for v in line])
    path.write_bytes(buffer.getvalue().encode("utf-8-sig"))


def measure(path: Path, isolated: bool) -> dict:
    """Run in the child: parse and validate the file, then report time and peak RSS."""
    sys.path.insert(0, str(ROOT))
    # Validation reads the speeds and terms from quotes.models: Django's apps, no database.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-" + "x" * 40)
    import django

    django.setup()
    from bulk.spreadsheets.isolated import ReadLimits
    from bulk.spreadsheets.upload import parse_upload

    data = path.read_bytes()
    limits = ReadLimits() if isolated else None
    started = time.perf_counter()
    parsed = parse_upload(data, read_limits=limits)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    parse_upload(data, read_limits=limits)
    again = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": round(seconds, 3),
        "again": round(again, 3),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "file_mb": round(len(data) / (1024 * 1024), 2),
        "valid": parsed.valid_count,
        "invalid": parsed.invalid_count,
        "duplicates": parsed.duplicate_count,
    }


def submit(path: Path, database_url: str) -> dict:
    """Run in the child: stage the file as a user would, then time its submission."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from results import setup

    setup(database_url, path.parent)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from bulk.services.uploads import stage_upload, submit_staged_upload

    owner = User.objects.create_user("owner@example.com", "bench-password-1")
    with path.open("rb") as upload:
        staged = stage_upload(
            user=owner,
            uploaded_file=upload,
            file_name=path.name,
            speed_mbps=100,
            term_months=36,
            notify_email=False,
        )
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        job = submit_staged_upload(staged=staged, user=owner)
    seconds = time.perf_counter() - started
    return {
        "vendor": connection.vendor,
        "seconds": round(seconds, 3),
        "statements": len(queries),
        "rows": job.rows.count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--format", choices=["xlsx", "csv"], default="xlsx")
    parser.add_argument("--distinct-streets", action="store_true")
    parser.add_argument("--distinct-zips", action="store_true")
    parser.add_argument("--isolated", action="store_true")
    parser.add_argument("--submit", action="store_true")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--submit-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(Path(args.child), args.isolated)))
        return
    if args.submit_child:
        print(json.dumps(submit(Path(args.submit_child), args.database_url)))
        return
    rows = build_rows(args.rows, distinct=args.distinct_streets, distinct_zips=args.distinct_zips)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload.{args.format}"
        write_file(path, args.format, rows)
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(path), *(["--isolated"] * args.isolated)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        if args.submit:
            child = [sys.executable, __file__, "--submit-child", str(path)]
            submitted = json.loads(
                subprocess.run(
                    [*child, "--database-url", args.database_url],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout.splitlines()[-1]
            )
    result = json.loads(out)
    print(
        f"{args.rows:,} rows, {args.format} ({result['file_mb']} MB)"
        f"{', distinct streets' if args.distinct_streets else ''}"
        f"{', distinct ZIPs' if args.distinct_zips else ''}"
        f"{', in a child process' if args.isolated else ''}: "
        f"read + validate + normalise {result['seconds']:.3f} s (again {result['again']:.3f} s), "
        f"peak RSS {result['peak_rss_mb']:.0f} MB "
        f"({result['valid']:,} valid, {result['invalid']:,} invalid, "
        f"{result['duplicates']:,} duplicates)"
    )
    if args.submit:
        print(
            f"submitted as a job of {submitted['rows']:,} rows ({submitted['vendor']}): "
            f"{submitted['seconds']:.3f} s, {submitted['statements']:,} SQL statements"
        )


if __name__ == "__main__":
    main()
