from django import forms
from django.conf import settings

from quotes.addresses import check_zip_state, normalize_state, normalize_zip
from quotes.models import DEFAULT_SPEED_MBPS, DEFAULT_TERM_MONTHS, SPEEDS_MBPS, TERMS_MONTHS
from quotes.options import speed_label, term_label

SPEED_CHOICES = [(mbps, speed_label(mbps)) for mbps in SPEEDS_MBPS]
TERM_CHOICES = [(months, term_label(months)) for months in TERMS_MONTHS]


class QuoteForm(forms.Form):
    street_address = forms.CharField(label="Street address", max_length=200)
    city = forms.CharField(max_length=100)
    state = forms.CharField(max_length=40, help_text="Two letters (TX) or the name (Texas).")
    zip_code = forms.CharField(label="ZIP code", max_length=10)
    speed_mbps = forms.TypedChoiceField(
        label="Speed", choices=SPEED_CHOICES, coerce=int, initial=DEFAULT_SPEED_MBPS
    )
    term_months = forms.TypedChoiceField(
        label="Term", choices=TERM_CHOICES, coerce=int, initial=DEFAULT_TERM_MONTHS
    )
    contact_name = forms.CharField(label="Contact name", max_length=150)
    email = forms.EmailField(label="Contact email")
    phone = forms.CharField(max_length=40, required=False)
    company = forms.CharField(max_length=200, required=False)
    allow_reuse = forms.BooleanField(
        label="Use a recent price for this address if we have one",
        required=False,
        initial=True,
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["allow_reuse"].help_text = (
            f"A price Momentum gave for the same address, speed and term in the last "
            f"{settings.QUOTE_REUSE_DAYS} days is shown at once. Untick for a fresh quote "
            "(2 to 3 minutes)."
        )

    def clean_state(self) -> str:
        code = normalize_state(self.cleaned_data["state"])
        if code is None:
            raise forms.ValidationError("Enter a US state: two letters (TX) or its name.")
        return code

    def clean_zip_code(self) -> str:
        zip_code = normalize_zip(self.cleaned_data["zip_code"])
        if zip_code is None:
            raise forms.ValidationError("Enter a ZIP code: 5 digits, or ZIP+4 (12345-6789).")
        return zip_code

    def clean(self) -> dict:
        data = super().clean()
        state, zip_code = data.get("state"), data.get("zip_code")
        if state and zip_code:
            mismatch = check_zip_state(zip_code, state)
            if mismatch:
                self.add_error("zip_code", f"{mismatch}. Check the ZIP code and the state.")
        return data

    @classmethod
    def initial_for(cls, user) -> dict:
        """Prefill the contact from the signed-in user's profile."""
        if not user.is_authenticated:
            return {}
        return {
            "contact_name": user.full_name,
            "email": user.email,
            "phone": user.phone,
            "company": user.company,
        }
