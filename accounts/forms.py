from django import forms
from django.contrib.auth.forms import AuthenticationForm

from accounts.models import User


class SignInForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["full_name", "company", "phone"]
        labels = {"full_name": "Full name"}
        help_texts = {"phone": "Used as the contact on quotes you request."}
