"""Time writing the same results sheet with openpyxl (write-only) and with XlsxWriter
(constant memory, as bulk.spreadsheets.xlsxfile does).

    .venv/bin/python benchmarks/xlsx_writers.py [--rows 20000] [--runs 3]

Each row is a results row as a download writes it: the upload's cells (text and a
numeric ZIP), then Status, two prices (Decimals in a money format), carrier, speed, term,
the address quoted, the price source, two times (in a date-time format) and a reference.
Prints the median seconds of each writer and the file sizes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def results_rows(count: int) -> list[list[object]]:
    quoted = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC).replace(tzinfo=None)
    return [
        [
            *(f"S{n}", f"{n} MAIN ST", "DENVER", "CO", 80202, "Priced"),
            *(Decimal(400 + n % 300), Decimal(250), "Lumen", "1 Gbps", "36 months"),
            *(f"{n} MAIN ST, DENVER, CO 80202", "fresh", quoted, quoted, f"MQ-{n}"),
        ]
        for n in range(count)
    ]


def with_openpyxl(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Results")
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, Decimal | dt.datetime):
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = "#,##0.00" if isinstance(value, Decimal) else "yyyy-mm-dd"
                cells.append(cell)
            else:
                cells.append(value)
        sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def with_xlsxwriter(rows: list[list[object]]) -> bytes:
    from bulk.spreadsheets.xlsxfile import new_workbook

    return new_workbook(rows, sheet_name="Results", frozen_rows=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    rows = results_rows(options.rows)
    for name, write in (("openpyxl write-only", with_openpyxl), ("XlsxWriter", with_xlsxwriter)):
        times = []
        for _ in range(options.runs):
            started = time.perf_counter()
            data = write(rows)
            times.append(time.perf_counter() - started)
        print(f"{name:20} {statistics.median(times):7.2f} s  {len(data):,} bytes")


if __name__ == "__main__":
    main()
