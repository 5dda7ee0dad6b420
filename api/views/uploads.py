"""Uploads: read and validate a spreadsheet, choose its columns, submit it as a job."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated
from uuid import UUID

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from api import errors, schemas
from bulk import selectors
from bulk.forms import MAX_REUSE_DAYS
from bulk.models import (
    DEFAULT_SPEED_MBPS,
    DEFAULT_TERM_MONTHS,
    SPEEDS_MBPS,
    TERMS_MONTHS,
    StagedUpload,
)
from bulk.services import uploads
from bulk.spreadsheets.mapping import FIELDS, ColumnMap
from quotes.options import Option, OptionError, check_options, parse_speed, parse_term

router = Router()


def _one_of(choices: tuple[int, ...]):
    def check(value: int) -> int:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(map(str, choices))}")
        return value

    # A form sends text: an int checked against the choices (a Literal would refuse "500").
    schema = WithJsonSchema({"type": "integer", "enum": list(choices)})
    return Annotated[int, AfterValidator(check), schema]


SpeedMbps = _one_of(SPEEDS_MBPS)
TermMonths = _one_of(TERMS_MONTHS)
# A form can't send null: a number of days, or left out (an empty field counts as left out).
ReuseDays = Annotated[
    int | None,
    BeforeValidator(lambda value: None if value == "" else value),
    WithJsonSchema({"type": "integer", "minimum": 0, "maximum": MAX_REUSE_DAYS}),
]
# Field to column; any other key is refused (400 `bad_mapping`, naming it).
_COLUMN = {"anyOf": [{"type": "string"}, {"type": "integer"}]}
MappingObject = Annotated[
    dict[str, str | int],
    WithJsonSchema(
        {
            "type": "object",
            "properties": dict.fromkeys(FIELDS, _COLUMN),
            "additionalProperties": False,
        }
    ),
]
# Form fields with their defaults (`Form[...] = default` loses the default of an Annotated).
SPEED_FIELD = Form(DEFAULT_SPEED_MBPS)
TERM_FIELD = Form(DEFAULT_TERM_MONTHS)
NOTIFY_FIELD = Form(True, description="Email me when the job ends.")
MAPPING_FIELD = Form(
    "",
    description='Optional JSON: which column feeds each field, e.g. {"street": "B", "city": 3, '
    '"state": "State", "zip": "E"} or {"address": "B"}. A column is a header name, a letter or '
    "a 1-based number. Fields: street, unit, city, state, zip, address, and speed and term "
    "(a row's own speed and term, as people write them: 1 Gbps, 500M; 36, 3 yr); any other "
    "key answers 400 `bad_mapping`.",
)
NO_HEADER_FIELD = Form(False, description="The first row is data, not headers.")
UPLOAD_FILE = File(
    ...,
    description="An .xlsx, .xls, .ods or .csv spreadsheet of addresses (a header row is optional; "
    "see `mapping` and `no_header`). Any other file answers 400 `upload_rejected`.",
)
NEED_BY_FIELD = Form(
    None,
    description="When the prices are needed by, with a time zone (2026-12-10T09:00-07:00). "
    "A job that would otherwise miss it is served ahead of round-robin; the estimate says "
    "how many rows are expected priced by then (`rows_by_need_by`).",
)
OPTIONS_FIELD = Form(
    "",
    description="Optional JSON: up to 4 speed/term options, each its own quote for every "
    'address, e.g. [{"speed_mbps": 1000, "term_months": 36}, {"speed_mbps": 500, '
    '"term_months": 60}]. The first replaces speed_mbps and term_months; every address\'s '
    "first option is priced before any second one. Anything else answers 400 `bad_options`.",
)
REUSE_FIELD = Form(
    None,
    ge=0,
    le=MAX_REUSE_DAYS,
    description="Reuse a price Momentum gave for the same address, speed and term within "
    "this many days instead of asking again (0: never). Default: the portal's setting "
    "(QUOTE_REUSE_DAYS, 30). Timeouts and outages are never reused.",
)


def _my_upload(
    request: HttpRequest, upload_id: UUID, *, with_rows: bool = False, with_content: bool = False
) -> StagedUpload:
    mine = selectors.staged_uploads_for_user(
        user=request.auth, with_rows=with_rows, with_content=with_content
    )
    return get_object_or_404(mine, pk=upload_id)


def _column_map(spec: object, *, no_header: bool) -> ColumnMap:
    # `spec` is the JSON text of a form field, or the object of a JSON body.
    try:
        if isinstance(spec, str):
            spec = json.loads(spec)
        if not isinstance(spec, dict):
            raise ValueError("mapping must be a JSON object")
        return ColumnMap.from_spec(spec, has_header=not no_header)
    except ValueError as error:
        raise errors.BadMapping(f"mapping: {error}") from error


@router.post(
    "/uploads",
    response={
        201: schemas.Upload,
        **errors.answers(
            uploads.UploadRejected,
            errors.BadMapping,
            errors.BadNeedBy,
            errors.BadOptions,
            uploads.UploadRateLimited,
        ),
        **errors.SIGNED_OUT,
        **errors.NO_CSRF,
        **errors.LONG_URL,
    },
    url_name="upload_create",
    summary="Upload a spreadsheet and validate it",
    tags=["uploads"],
)
def create_upload(
    request: HttpRequest,
    file: UploadedFile = UPLOAD_FILE,
    speed_mbps: SpeedMbps = SPEED_FIELD,
    term_months: TermMonths = TERM_FIELD,
    notify_email: bool = NOTIFY_FIELD,
    mapping: str = MAPPING_FIELD,
    no_header: bool = NO_HEADER_FIELD,
    reuse_days: ReuseDays = REUSE_FIELD,
    need_by: datetime | None = NEED_BY_FIELD,
    options: str = OPTIONS_FIELD,
) -> Status:
    """Read and validate an xlsx, xls, ods or csv file of addresses; nothing is quoted yet. A
    file that is not such a spreadsheet is refused with 400 and the reason.

    The answer has how the columns were read, the counts, every invalid row with its
    reasons, and the estimate. If the address columns can't all be found the upload is
    `mapping`: name them with `POST /uploads/{id}/columns` (or send `mapping` here).
    """
    if mapping.strip():
        columns = _column_map(mapping, no_header=no_header)
    else:
        columns = ColumnMap({}, has_header=False) if no_header else None
    staged = uploads.stage_upload(
        user=request.auth,
        uploaded_file=file,
        file_name=file.name or "upload",
        speed_mbps=speed_mbps,
        term_months=term_months,
        notify_email=notify_email,
        mapping=columns,
        reuse_days=reuse_days,
        need_by=_need_by(need_by),
        options=_options(options),
    )
    return Status(201, staged)


def _options(text: str) -> list[Option] | None:
    """The options a JSON text asks for (None: none sent); raise BadOptions."""
    if not text.strip():
        return None
    try:
        data = json.loads(text)
        if not isinstance(data, list) or not all(isinstance(o, dict) for o in data):
            raise OptionError("give a JSON list of {speed_mbps, term_months}", "Bad options")
        asked = [
            Option(parse_speed(o.get("speed_mbps", "")), parse_term(o.get("term_months", "")))
            for o in data
        ]
        return check_options(asked)
    except (ValueError, OptionError) as error:
        raise errors.BadOptions(f"options: {error}") from error


def _need_by(need_by: datetime | None) -> datetime | None:
    if need_by is None:
        return None
    if timezone.is_naive(need_by):
        raise errors.BadNeedBy("need_by: give a time zone, e.g. 2026-12-10T09:00-07:00.")
    if need_by <= timezone.now():
        raise errors.BadNeedBy("need_by: choose a time in the future.")
    return need_by


class Columns(Schema):
    mapping: MappingObject = Field(
        description='Field to column: {"street": "B", "city": 3, "state": "State"}; a column '
        "is a header name, a letter or a 1-based number. Fields: street, unit, city, state, "
        "zip, address, speed, term; any other key answers 400 `bad_mapping`."
    )
    no_header: bool = Field(False, description="The first row is data, not headers.")
    sheet: str | None = Field(None, description="The sheet to read (default: as found).")


@router.post(
    "/uploads/{upload_id}/columns",
    response={
        200: schemas.Upload,
        **errors.WRITE,
        **errors.answers(
            errors.BadMapping, uploads.UploadRejected, uploads.SubmitRefused, uploads.UploadExpired
        ),
    },
    url_name="upload_columns",
    summary="Choose which columns hold the address, and read the file again",
    tags=["uploads"],
)
def set_columns(request: HttpRequest, upload_id: UUID, body: Columns) -> StagedUpload:
    """Your choice is remembered for your next file laid out the same way."""
    staged = _my_upload(request, upload_id, with_content=True)
    mapping = _column_map(body.mapping, no_header=body.no_header)
    mapping.sheet = body.sheet
    if body.sheet in (None, staged.sheet_name):
        mapping.header_row = staged.header_row
    return uploads.remap_upload(staged=staged, user=request.auth, mapping=mapping)


@router.get(
    "/uploads/{upload_id}",
    response={200: schemas.Upload, **errors.READ},
    url_name="upload_detail",
    summary="An upload's validation result",
    tags=["uploads"],
)
def get_upload(request: HttpRequest, upload_id: UUID) -> StagedUpload:
    return _my_upload(request, upload_id, with_rows=True)


@router.post(
    "/uploads/{upload_id}/submit",
    response={
        200: schemas.Job,
        201: schemas.Job,
        **errors.WRITE,
        **errors.answers(uploads.UploadExpired, uploads.UploadNotReady, uploads.NothingToSubmit),
    },
    url_name="upload_submit",
    summary="Start the job for a validated upload",
    tags=["uploads"],
)
def submit_upload(request: HttpRequest, upload_id: UUID) -> Status:
    """Create the job from the upload's valid rows: 201 the first time; a repeated call
    returns the same job with 200."""
    staged = _my_upload(request, upload_id)
    existed = staged.batch_job_id is not None
    job = uploads.submit_staged_upload(staged=staged, user=request.auth)
    return Status(200 if existed else 201, job)
