"""Submit a spreadsheet of addresses as a bulk job, as the web upload does.

python manage.py submit_batch sites.xlsx --user ops@example.com --speed 500 --wait
python manage.py submit_batch sites.csv --user ops@example.com --no-header \
    --map street=2 --map city=3 --map state=4 --map zip=5 --dry-run --json

Without --map, the columns are found as the web upload finds them: the user's remembered
choice for files of this layout, the header's names, or a guess from the cells.
"""

import argparse
import json
import time
from datetime import datetime
from pathlib import Path
from typing import NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.models import User
from bulk import selectors
from bulk.line import load_line
from bulk.line.options import upload_options_cost
from bulk.models import (
    DEFAULT_SPEED_MBPS,
    DEFAULT_TERM_MONTHS,
    SPEEDS_MBPS,
    TERMS_MONTHS,
    BatchJob,
)
from bulk.services import uploads
from bulk.spreadsheets.mapping import FIELDS, ColumnMap
from bulk.spreadsheets.upload import ParsedUpload
from bulk.templatetags.bulk_tags import estimate as estimate_text
from quotes.options import Option, OptionError, check_options, parse_option

SHOWN_INVALID_ROWS = 50


class Command(BaseCommand):
    help = "Parse, validate and submit a spreadsheet (xlsx or csv) as a bulk quote job."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the .xlsx or .csv file")
        parser.add_argument("--user", required=True, help="email of the user who owns the job")
        parser.add_argument(
            "--speed", type=int, default=DEFAULT_SPEED_MBPS, choices=SPEEDS_MBPS, help="Mbps"
        )
        parser.add_argument(
            "--term", type=int, default=DEFAULT_TERM_MONTHS, choices=TERMS_MONTHS, help="months"
        )
        parser.add_argument(
            "--option",
            action="append",
            default=[],
            metavar="SPEEDxTERM",
            help="a speed/term option for every address, as 1000x36 (Mbps x months); repeat "
            "for up to 4, the first replacing --speed and --term. Every address's first "
            "option is priced before any second one.",
        )
        parser.add_argument(
            "--no-email", action="store_true", help="don't email the user when the job ends"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="stop after validation; create nothing"
        )
        parser.add_argument(
            "--no-header", action="store_true", help="the first row is data, not headers"
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="FIELD=COLUMN",
            help=f"which column feeds a field ({', '.join(FIELDS)}); COLUMN is a header "
            "name, a letter (B) or a 1-based number (2). Repeat for each field.",
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            help="follow the job until it ends; exit 0 only if it completed",
        )
        parser.add_argument(
            "--need-by",
            type=need_by_time,
            default=None,
            metavar="ISO",
            help="when the prices are needed by, with a time zone: 2026-12-10T09:00-07:00",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument(
            "--poll-interval", type=float, default=5.0, help="seconds between checks (--wait)"
        )
        parser.add_argument(
            "--timeout", type=float, default=0, help="give up waiting after this many seconds"
        )

    def options(self, texts: list[str]) -> list[Option] | None:
        """The --option values as options (None: none given); a bad one fails the command."""
        if not texts:
            return None
        try:
            return check_options([parse_option(text) for text in texts])
        except OptionError as error:
            self.fail(error.message)

    def handle(self, *args, **options) -> None:
        self.as_json = options["json"]
        self.result: dict = {"file": str(options["file"])}
        user = User.objects.filter(email__iexact=options["user"]).first()
        if user is None:
            self.fail(f"No user with the email {options['user']}.")
        path: Path = options["file"]
        if not path.is_file():
            self.fail(f"No such file: {path}")

        mapping = self.mapping(options["map"], options["no_header"])
        asked = self.options(options["option"])
        try:
            with path.open("rb") as uploaded_file:
                if options["dry_run"]:
                    parsed = uploads.read_upload(
                        uploaded_file=uploaded_file, mapping=mapping, user=user
                    )
                    self.report_parse(parsed)
                    self.report_estimate(
                        parsed.valid_count * len(asked or [None]), need_by=options["need_by"]
                    )
                    cost = upload_options_cost(
                        load_line(), addresses=parsed.valid_count, options=len(asked or [])
                    )
                    if cost is not None:
                        self.say(f"{cost.text}.")
                    self.finish()
                    return
                staged = uploads.stage_upload(
                    user=user,
                    uploaded_file=uploaded_file,
                    file_name=path.name,
                    speed_mbps=options["speed"],
                    term_months=options["term"],
                    notify_email=not options["no_email"],
                    mapping=mapping,
                    need_by=options["need_by"],
                    options=asked,
                )
        except uploads.UploadRejected as rejected:
            self.fail(rejected.message)
        self.report_staged(staged)
        try:
            job = uploads.submit_staged_upload(staged=staged, user=user)
        except uploads.SubmitRefused as refused:
            self.fail(refused.message)
        asked_count = len(job.option_list)
        what = f"quotes ({asked_count} options per address)" if asked_count > 1 else "addresses"
        self.say(f"Submitted as job {job.pk} with {job.total_count:,} {what}.")
        if options["wait"]:
            job = self.wait_for(job, options["poll_interval"], options["timeout"])
        self.report_job(job)
        self.finish()
        if options["wait"] and job.status != BatchJob.Status.COMPLETE:
            raise CommandError(f"Job {job.pk} ended {job.status}.", returncode=1)

    def mapping(self, pairs: list[str], no_header: bool) -> ColumnMap | None:
        if not pairs:
            return ColumnMap({}, has_header=False) if no_header else None
        spec: dict[str, str] = {}
        for pair in pairs:
            name, sep, column = pair.partition("=")
            if not sep or not column.strip():
                self.fail(f'--map {pair}: write FIELD=COLUMN, for example "street=B".')
            spec[name.strip().lower()] = column.strip()
        try:
            return ColumnMap.from_spec(spec, has_header=not no_header)
        except ValueError as error:
            self.fail(f"--map: {error}")

    # --- Output ---------------------------------------------------------------------------

    def say(self, line: str) -> None:
        if not self.as_json:
            self.stdout.write(line)

    def fail(self, message: str) -> NoReturn:
        if self.as_json:
            self.result["error"] = message
            self.stdout.write(json.dumps(self.result))
        raise CommandError(message, returncode=1)

    def finish(self) -> None:
        if self.as_json:
            self.stdout.write(json.dumps(self.result))

    def report_parse(self, parsed: ParsedUpload) -> None:
        if parsed.mapping_problem:
            self.report_columns(parsed.columns, parsed.field_columns, parsed.mapping_source)
            self.fail(f"{parsed.mapping_problem} Name them with --map FIELD=COLUMN.")
        self.report_columns(parsed.columns, parsed.field_columns, parsed.mapping_source)
        invalid = [{"row": r.row_number, "errors": r.errors} for r in parsed.invalid_rows]
        duplicates = [{"row": r.row_number, "of": r.duplicate_of} for r in parsed.duplicate_rows]
        self.report_counts(
            sheet=parsed.sheet_name,
            header_row=parsed.header_row_number,
            valid=parsed.valid_count,
            invalid=invalid,
            duplicates=duplicates,
        )

    def report_columns(self, columns: list[str], fields: dict[str, str], source: str) -> None:
        self.result |= {"columns": columns, "mapping": fields, "mapping_source": source}
        self.say(
            "Columns: "
            + (", ".join(f'{name} from "{column}"' for name, column in fields.items()) or "none")
            + {"remembered": " (as chosen last time)", "guessed": " (guessed from the cells)"}.get(
                source, ""
            )
        )

    def report_staged(self, staged) -> None:
        self.report_columns(staged.columns, staged.field_columns, staged.mapping_source)
        if staged.mapping_problem:
            self.fail(f"{staged.mapping_problem} Name them with --map FIELD=COLUMN.")
        rows = staged.rows
        self.report_counts(
            sheet=staged.sheet_name,
            header_row=staged.header_row,
            valid=staged.valid_count,
            invalid=[{"row": n, "errors": errors} for n, _cells, errors, *_ in rows["invalid"]],
            duplicates=[{"row": n, "of": of} for n, of, _cells in rows["duplicates"]],
        )

    def report_counts(
        self, *, sheet: str, header_row: int | None, valid: int, invalid: list, duplicates: list
    ) -> None:
        self.result |= {
            "valid": valid,
            "invalid": len(invalid),
            "duplicates": len(duplicates),
            "invalid_rows": invalid,
            "duplicate_rows": duplicates,
        }
        where = f'sheet "{sheet}", ' if sheet else ""
        self.say(
            f"{self.result['file']}: {where}"
            + (f"header on row {header_row}. " if header_row else "no header row. ")
            + f"{valid:,} valid, {len(invalid):,} invalid, {len(duplicates):,} duplicate rows."
        )
        for row in invalid[:SHOWN_INVALID_ROWS]:
            self.say(f"  row {row['row']}: {'; '.join(row['errors'])}")
        if len(invalid) > SHOWN_INVALID_ROWS:
            self.say(f"  ... and {len(invalid) - SHOWN_INVALID_ROWS:,} more invalid rows")

    def report_estimate(self, rows: int, *, need_by: datetime | None = None) -> None:
        if not rows:
            self.result["estimate"] = None
            self.say("Nothing to quote.")
            return
        estimate = selectors.upload_estimate(rows=rows, need_by=need_by)
        finish = timezone.localtime(estimate.finish_at)
        self.result["estimate"] = estimate.as_dict()
        self.say(
            f"Quoting {rows:,} addresses takes {estimate_text(estimate)}; "
            f"{estimate.ahead:,} quotes ahead; done around {finish:%Y-%m-%d %H:%M %Z}."
        )
        if need_by is not None:
            self.say(
                f"{estimate.rows_by_need_by:,} of {rows:,} rows by {need_by:%Y-%m-%d %H:%M %Z}."
            )

    def report_job(self, job: BatchJob) -> None:
        self.result |= {
            "job_id": job.pk,
            "status": job.status,
            "total": job.total_count,
            "processed": job.processed_count,
            "succeeded": job.success_count,
            "failed": job.failed_count,
            "cancelled": job.cancelled_count,
        }

    def wait_for(self, job: BatchJob, interval: float, timeout: float) -> BatchJob:
        started = timezone.now()
        last = None
        while True:
            job.refresh_from_db()
            progress = (job.status, job.processed_count, job.cancelled_count)
            if progress != last:
                self.say(
                    f"  {job.get_status_display().lower()}: {job.processed_count:,} of "
                    f"{job.total_count:,} ({job.success_count:,} quoted, "
                    f"{job.failed_count:,} failed)"
                )
                last = progress
            if job.is_finished:
                return job
            if timeout and (timezone.now() - started).total_seconds() > timeout:
                self.report_job(job)
                self.fail(f"Job {job.pk} had not ended after {timeout:g} seconds.")
            time.sleep(interval)


def need_by_time(text: str) -> datetime:
    """`--need-by`: an ISO time with a time zone, in the future."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO time: {text}") from error
    if timezone.is_naive(moment):
        raise argparse.ArgumentTypeError("give a time zone, e.g. 2026-12-10T09:00-07:00")
    if moment <= timezone.now():
        raise argparse.ArgumentTypeError("choose a time in the future")
    return moment
