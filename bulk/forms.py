from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from bulk.models import DEFAULT_SPEED_MBPS, DEFAULT_TERM_MONTHS, BatchJob, BatchQuote
from quotes.forms import SPEED_CHOICES, TERM_CHOICES


class UploadForm(forms.Form):
    """The spreadsheet and the job's options; the file's content is checked by the service."""

    file = forms.FileField(
        label="Spreadsheet",
        widget=forms.ClearableFileInput(
            attrs={
                "accept": ".xlsx,.csv,application/vnd.openxmlformats-officedocument"
                ".spreadsheetml.sheet,text/csv"
            }
        ),
    )
    speed_mbps = forms.TypedChoiceField(
        label="Speed", choices=SPEED_CHOICES, coerce=int, initial=DEFAULT_SPEED_MBPS
    )
    term_months = forms.TypedChoiceField(
        label="Term", choices=TERM_CHOICES, coerce=int, initial=DEFAULT_TERM_MONTHS
    )
    notify_email = forms.BooleanField(
        label="Email me when the job is done", required=False, initial=True
    )

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = (
            f".xlsx or .csv, up to {filesizeformat(settings.BULK_MAX_UPLOAD_BYTES)} and "
            f"{settings.BULK_MAX_ROWS:,} rows, with columns for street address, city, state "
            "and ZIP code."
        )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.BULK_MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"The file is {filesizeformat(upload.size)}; the limit is "
                f"{filesizeformat(settings.BULK_MAX_UPLOAD_BYTES)}. Split it into smaller "
                "files and upload them one at a time."
            )
        return upload


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
    """The jobs list: which status, which page."""

    status = forms.ChoiceField(choices=[("", "All jobs"), *BatchJob.Status.choices], required=False)
