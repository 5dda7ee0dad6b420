"""Several speed/term options per address (issue 21), without workers: the rows a job
makes, the order they are opened in, and the results file's blocks."""

import io
from decimal import Decimal

import openpyxl
import pytest
from django.utils import timezone

from bulk import exports
from bulk.models import BatchQuote
from bulk.services import rows as row_services
from bulk.services.uploads import stage_upload, submit_staged_upload
from bulk.spreadsheets.results import is_result_column
from quotes.models import Lead, Quote
from quotes.options import Option
from tests.bulk.conftest import csv_bytes
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HEADER = ["Street", "City", "State", "ZIP", "Speed"]


def submitted(rows, options):
    user = UserFactory()
    staged = stage_upload(
        user=user,
        uploaded_file=io.BytesIO(csv_bytes([HEADER, *rows])),
        file_name="sites.csv",
        speed_mbps=1000,
        term_months=36,
        notify_email=False,
        options=options,
        reuse_days=0,
    )
    return submit_staged_upload(staged=staged, user=user)


def price(row: BatchQuote, mrc: str) -> None:
    lead = Lead.objects.create(contact_name="T", email="t@example.com")
    quote = Quote.objects.create(
        lead=lead,
        status=Quote.Status.COMPLETE,
        mrc=Decimal(mrc),
        nrc=Decimal("0"),
        carrier="Zayo",
        completed_at=timezone.now(),
    )
    BatchQuote.objects.filter(pk=row.pk).update(status=BatchQuote.Status.COMPLETE, quote=quote)


def site(n: int, speed: str = "") -> list[str]:
    return [f"{n} Main St", "Denver", "CO", "80202", speed]


def test_each_row_has_one_quote_per_option_and_its_own_speed_is_its_first():
    job = submitted(
        [site(1), site(2, "100M"), site(3, "500M")], [Option(1000, 36), Option(500, 36)]
    )
    made = list(
        job.rows.order_by("row_number", "option").values_list(
            "row_number", "option", "speed_mbps", "term_months"
        )
    )
    assert made == [
        (2, 0, 1000, 36),
        (2, 1, 500, 36),
        (3, 0, 100, 36),
        (3, 1, 500, 36),
        # Its own speed is the second option: asked once, as its first.
        (4, 0, 500, 36),
    ]
    assert job.total_count == 5
    assert job.rows.filter(quote__isnull=True).count() == 0


def test_every_first_option_is_opened_before_any_second():
    job = submitted([site(n) for n in range(1, 5)], [Option(1000, 36), Option(500, 60)])
    opened = []
    for _ in range(8):
        row_services.open_next_row()
        row = job.rows.filter(status=BatchQuote.Status.PROCESSING).get()
        opened.append((row.option, row.row_number))
        BatchQuote.objects.filter(pk=row.pk).update(status=BatchQuote.Status.COMPLETE)
    assert opened == [(0, 2), (0, 3), (0, 4), (0, 5), (1, 2), (1, 3), (1, 4), (1, 5)]


def test_results_have_a_block_per_option_and_the_lowest_monthly():
    job = submitted([site(1), site(2, "500M")], [Option(1000, 36), Option(500, 36)])
    for row, mrc in zip(
        job.rows.order_by("row_number", "option"), ("300", "200", "250"), strict=True
    ):
        price(row, mrc)
    sheet = openpyxl.load_workbook(io.BytesIO(exports.xlsx_bytes(job=job))).active
    header = [c.value for c in sheet[1]]
    assert header[:5] == HEADER
    assert header[5] == "1 Gbps · 36 mo · Status"
    assert "500 Mbps · 36 mo · Monthly price" in header
    assert header[-2:] == ["Lowest monthly", "Lowest monthly option"]
    lines = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(lines) == 2
    assert lines[0][-2:] == (200, "500 Mbps · 36 mo")
    second_block = header.index("500 Mbps · 36 mo · Status")
    # Row 3 asked 500 Mbps itself: its first option, so its second block is empty.
    assert lines[1][second_block] == "Asked as the row's first option"
    assert lines[1][-2:] == (250, "500 Mbps · 36 mo")


def test_one_option_results_state_each_rows_own_speed():
    job = submitted([site(1), site(2, "100M")], None)
    for row in job.rows.order_by("row_number"):
        price(row, "100")
    sheet = openpyxl.load_workbook(io.BytesIO(exports.xlsx_bytes(job=job))).active
    header = [c.value for c in sheet[1]]
    assert "Lowest monthly" not in header
    # The file's own Speed column, then the results' Speed: the speed each row was quoted at.
    ours = len(header) - 1 - header[::-1].index("Speed")
    assert ours > header.index("Speed")
    speeds = [line[ours] for line in sheet.iter_rows(min_row=2, values_only=True)]
    assert speeds == ["1 Gbps", "100 Mbps"]


def test_an_options_block_and_the_lowest_monthly_are_result_columns():
    ours = {"status", "monthly price", "lowest monthly"}
    assert is_result_column("1 Gbps · 36 mo · Status", ours)
    assert is_result_column("Lowest monthly", ours)
    assert not is_result_column("Site · Status note", ours)
    assert not is_result_column("Street", ours)
