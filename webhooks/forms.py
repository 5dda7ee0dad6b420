from django import forms

from webhooks.models import Event


class EndpointForm(forms.Form):
    """A new endpoint: its URL and the events it wants."""

    url = forms.CharField(max_length=2000, label="URL", strip=True)
    events = forms.MultipleChoiceField(
        choices=Event.choices, widget=forms.CheckboxSelectMultiple, initial=[Event.JOB_FINISHED]
    )
