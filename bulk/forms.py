from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from bulk.models import DEFAULT_SPEED_MBPS, DEFAULT_TERM_MONTHS, BatchJob, BatchQuote
from bulk.spreadsheets.cells import column_letter
from bulk.spreadsheets.mapping import FIELD_LABELS, FIELDS, ColumnMap
from quotes.forms import SPEED_CHOICES, TERM_CHOICES
from quotes.options import MAX_OPTIONS, Option, OptionError, check_options, parse_option

# The longest reuse window a job may ask for.
MAX_REUSE_DAYS = 365


class UploadForm(forms.Form):
    """The spreadsheet and the job's options; the file's content is checked by the service."""

    file = forms.FileField(
        label="Spreadsheet",
        widget=forms.ClearableFileInput(
            attrs={
                "accept": ".xlsx,.xls,.ods,.csv,application/vnd.openxmlformats-officedocument"
                ".spreadsheetml.sheet,application/vnd.ms-excel,"
                "application/vnd.oasis.opendocument.spreadsheet,text/csv"
            }
        ),
    )
    speed_mbps = forms.TypedChoiceField(
        label="Speed", choices=SPEED_CHOICES, coerce=int, initial=DEFAULT_SPEED_MBPS
    )
    term_months = forms.TypedChoiceField(
        label="Term", choices=TERM_CHOICES, coerce=int, initial=DEFAULT_TERM_MONTHS
    )
    more_options = forms.CharField(
        label="More speed/term options",
        required=False,
        max_length=200,
        help_text=f"Optional, up to {MAX_OPTIONS - 1}, as speed x term: 500x60, 1Gx24. Each is "
        "a quote of its own for every address; every address's first option is priced "
        "before any second one.",
    )
    notify_email = forms.BooleanField(
        label="Email me when the job is done", required=False, initial=True
    )
    reuse_days = forms.IntegerField(
        label="Reuse prices from the last (days)",
        min_value=0,
        max_value=MAX_REUSE_DAYS,
        required=False,
        help_text="An address priced at this speed and term within this many days takes "
        "that price at once instead of asking Momentum again. 0 asks again for every row.",
    )

    need_by = forms.DateTimeField(
        label="Need the prices by",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Optional. The line serves a job that would otherwise miss it first; "
        "the preview says how many rows are expected priced by then.",
    )

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["reuse_days"].initial = settings.QUOTE_REUSE_DAYS
        self.fields["file"].help_text = (
            f".xlsx, .xls, .ods or .csv, up to {filesizeformat(settings.BULK_MAX_UPLOAD_BYTES)} "
            f"and {settings.BULK_MAX_ROWS:,} rows: street address, city, state and ZIP code "
            "in columns of their own, or one full address a row. A header row is optional: "
            "you choose the columns on the next page."
        )

    def clean_reuse_days(self) -> int:
        days = self.cleaned_data["reuse_days"]
        return settings.QUOTE_REUSE_DAYS if days is None else days

    def clean_need_by(self):
        need_by = self.cleaned_data["need_by"]
        if need_by is not None and need_by <= timezone.now():
            raise forms.ValidationError("Choose a time in the future.")
        return need_by

    def clean(self) -> dict:
        """`options`: the speed and term, then the more options asked, none twice."""
        data = super().clean()
        if "speed_mbps" not in data or "term_months" not in data:
            return data
        texts = (data.get("more_options") or "").replace(";", ",").split(",")
        try:
            more = [parse_option(t) for t in texts if t.strip()]
            data["options"] = check_options(
                [Option(data["speed_mbps"], data["term_months"]), *more]
            )
        except OptionError as error:
            self.add_error("more_options", error.message)
        return data

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.BULK_MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"The file is {filesizeformat(upload.size)}; the limit is "
                f"{filesizeformat(settings.BULK_MAX_UPLOAD_BYTES)}. Split it into smaller "
                "files and upload them one at a time."
            )
        return upload


class MappingForm(forms.Form):
    """Which column feeds each address field; whether the first row is data; which sheet."""

    no_header = forms.BooleanField(label="The first row is data, not headers", required=False)
    sheet = forms.ChoiceField(label="Sheet", required=False)

    def __init__(self, *args, staged, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        mapping = ColumnMap.from_json(staged.mapping or {})
        kwargs.setdefault(
            "initial",
            {"no_header": not mapping.has_header, "sheet": staged.sheet_name}
            | {name: str(index) for name, index in mapping.columns.items()},
        )
        super().__init__(*args, **kwargs)
        self.staged = staged
        samples = staged.samples or []
        choices = [("", "(none)")]
        for index, name in enumerate(staged.columns):
            example = next((row[index] for row in samples if index < len(row) and row[index]), "")
            label = f"{column_letter(index)}: {name}"
            if example and example != name:
                label += f" (e.g. {example[:30]})"
            choices.append((str(index), label))
        for name in FIELDS:
            self.fields[name] = forms.TypedChoiceField(
                label=FIELD_LABELS[name],
                choices=choices,
                coerce=int,
                empty_value=None,
                required=False,
            )
        self.fields["sheet"].choices = [(n, n) for n in staged.sheet_names or [""]]
        self.order_fields(
            ["address", "street", "unit", "city", "state", "zip", "speed", "term", "no_header"]
        )

    def clean(self) -> dict:
        data = super().clean()
        columns = {name: data[name] for name in FIELDS if data.get(name) is not None}
        if "address" in columns:
            extra = [n for n in ("street", "city", "state") if n in columns]
            if extra:
                raise forms.ValidationError(
                    "Choose a full address column, or street, city and state columns, not both."
                )
        else:
            missing = [FIELD_LABELS[n] for n in ("street", "city", "state") if n not in columns]
            if missing:
                raise forms.ValidationError(
                    f"Choose a column for {', '.join(missing)}, or one full address column."
                )
        used = list(columns.values())
        if len(used) != len(set(used)):
            raise forms.ValidationError("Each column can feed one field only.")
        sheet = data.get("sheet") or self.staged.sheet_name
        same_sheet = sheet == self.staged.sheet_name
        data["mapping"] = ColumnMap(
            columns=columns,
            has_header=not data.get("no_header"),
            # Keep the rows above the header (titles) out, unless the sheet changed.
            header_row=self.staged.header_row if same_sheet else None,
            sheet=sheet or None,
        )
        return data


class _ListFilter(forms.Form):
    page = forms.IntegerField(min_value=1, required=False)

    def filters(self) -> tuple[str | None, int]:
        """The status chosen (None for all) and the page; bad values give all, page 1."""
        if not self.is_valid():
            return None, 1
        return self.cleaned_data["status"] or None, self.cleaned_data["page"] or 1


class RowFilterForm(_ListFilter):
    """The job page's results table: which rows, which page."""

    status = forms.ChoiceField(
        choices=[("", "All rows"), *BatchQuote.Status.choices], required=False
    )


class JobFilterForm(_ListFilter):
    """The jobs list: which status, what to search for, which page."""

    status = forms.ChoiceField(choices=[("", "All jobs"), *BatchJob.Status.choices], required=False)
    q = forms.CharField(max_length=200, required=False, strip=True)

    def query(self) -> str:
        """The search (name, file name or an address in the job); "" when none or bad."""
        return self.cleaned_data.get("q", "") if self.is_valid() else ""


class JobNameForm(forms.Form):
    """A job's new name (blank: its file name again)."""

    name = forms.CharField(max_length=255, required=False, strip=True)
