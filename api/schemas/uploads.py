"""The API's schemas of errors, uploads and their estimates (see `api.schemas`)."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from ninja import Schema
from pydantic import Field

from bulk import selectors
from bulk.models import StagedUpload
from bulk.spreadsheets.cells import cell_text, decode_cell

UploadStatus = Literal["mapping", "ready", "rejected"]


class OptionOut(Schema):
    speed_mbps: int
    term_months: int
    label: str = Field(description='How results head the option: "1 Gbps · 36 mo".')


class Error(Schema):
    detail: str = Field(description="What went wrong, for a person to read.")
    code: str = Field(description="A stable name for the error, for programs.")


class InvalidRow(Schema):
    row: int = Field(description="The row number in the spreadsheet.")
    errors: list[str]
    cells: dict[str, str] = Field(description="The row's cells, by column header.")


class Estimate(Schema):
    rows: int = Field(description="Addresses to quote.")
    ahead: int = Field(description="Quotes from other work before this job's last row.")
    seconds: int = Field(
        description="Seconds until the last row is expected priced (quotes ahead included)."
    )
    low_seconds: int = Field(description="The range's low end: few finishes come sooner.")
    high_seconds: int = Field(description="The range's high end: few finishes come later.")
    pace_seconds: float = Field(
        description="Seconds the line spends on a quote (the slot's turnover): measured "
        "lately, or typical."
    )
    measured: bool = Field(description="Whether the pace was measured (else the typical one).")
    finish_at: datetime = Field(description="When the last row is expected priced.")
    need_by: datetime | None = Field(description="The need-by asked for, if any.")
    rows_by_need_by: int | None = Field(
        description="How many rows are expected priced by the need-by (null without one)."
    )

    @staticmethod
    def resolve_seconds(estimate: selectors.Estimate) -> int:
        return int(estimate.duration.total_seconds())

    @staticmethod
    def resolve_low_seconds(estimate: selectors.Estimate) -> int:
        return int(estimate.low.total_seconds())

    @staticmethod
    def resolve_high_seconds(estimate: selectors.Estimate) -> int:
        return int(estimate.high.total_seconds())

    @staticmethod
    def resolve_pace_seconds(estimate: selectors.Estimate) -> float:
        return round(estimate.pace.total_seconds(), 1)


class DuplicateRow(Schema):
    row: int
    duplicate_of: int = Field(description="The earlier row with the same address.")


class Upload(Schema):
    """A validated upload, waiting to be submitted as a job."""

    id: UUID
    status: UploadStatus = Field(
        description="`mapping`: the address columns could not all be found (`mapping_problem` "
        "says which); choose them with `POST /uploads/{id}/columns`. `ready`: validated, "
        "may be submitted; `rejected`: the file can't be quoted."
    )
    file_name: str
    speed_mbps: int
    term_months: int
    options: list[OptionOut] = Field(
        validation_alias="option_list",
        description="The speed/term options asked for every address, the first being "
        "speed_mbps/term_months.",
    )
    notify_email: bool
    reuse_days: int = Field(description="The reuse window in days (0: reuse off).")
    need_by: datetime | None = Field(description="When the prices are needed by, if given.")
    reusable_count: int = Field(
        description="Valid rows a quote from the reuse window will answer at once."
    )
    columns: list[str] = Field(description="The file's column headers, in order.")
    header_row: int | None = Field(description="The header's row; null: no header row.")
    sheet: str = Field(validation_alias="sheet_name")
    mapping: dict[str, str] = Field(
        validation_alias="field_columns",
        description="Which column feeds each field (street, unit, city, state, zip, address).",
    )
    mapping_source: str = Field(
        description="`given`, `remembered` (your choice for files like this), `header` "
        "(from the header's names) or `guessed` (from the cells)."
    )
    mapping_problem: str
    estimate: Estimate | None = Field(description="How long quoting the valid rows takes.")
    valid_count: int
    invalid_count: int
    duplicate_count: int
    invalid_rows: list[InvalidRow]
    duplicate_rows: list[DuplicateRow]
    error: str = Field(
        validation_alias="error_message", description="Why a `rejected` upload can't be quoted."
    )
    expires_at: datetime
    job_id: int | None = Field(
        validation_alias="batch_job_id",
        description="The job made from this upload, once submitted.",
    )

    @staticmethod
    def resolve_reusable_count(staged: StagedUpload) -> int:
        return selectors.reusable_rows(staged=staged)

    @staticmethod
    def resolve_estimate(staged: StagedUpload) -> selectors.Estimate | None:
        if staged.status != StagedUpload.Status.READY:
            return None
        return selectors.preview_estimate(staged=staged)

    @staticmethod
    def resolve_invalid_rows(staged: StagedUpload) -> list[InvalidRow]:
        return [
            InvalidRow(row=number, errors=errors, cells=cells_by_column(staged.columns, cells))
            for number, cells, errors, *_ in (staged.rows or {}).get("invalid", [])
        ]

    @staticmethod
    def resolve_duplicate_rows(staged: StagedUpload) -> list[DuplicateRow]:
        return [
            DuplicateRow(row=number, duplicate_of=first)
            for number, first, *_ in (staged.rows or {}).get("duplicates", [])
        ]


# A job's counters, read from the job.


def cells_by_column(columns: list[str], cells: list | dict) -> dict[str, str]:
    if isinstance(cells, dict):  # a row stored before typed cells
        return {str(k): "" if v is None else str(v) for k, v in cells.items()}
    texts = [cell_text(decode_cell(c)) for c in cells]
    return dict(zip(columns, texts, strict=False))
