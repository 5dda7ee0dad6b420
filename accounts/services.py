import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken, User
from config import rate_limit

API_TOKEN_PREFIX = "bq_"  # noqa: S105 - a marker, not a secret
# Recording every use would write on every API call; once a minute says enough.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)


def update_profile(*, user: User, full_name: str, company: str, phone: str) -> User:
    """Save the contact details used on the user's quotes."""
    user.full_name = full_name
    user.company = company
    user.phone = phone
    user.save(update_fields=["full_name", "company", "phone"])
    return user


def hash_api_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def regenerate_api_token(*, user: User) -> str:
    """Give the user a new API token (the old one stops working); return it, once."""
    raw = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.filter(user=user).delete()
    ApiToken.objects.create(user=user, key_hash=hash_api_token(raw), prefix=raw[:10])
    return raw


def revoke_api_token(*, user: User) -> bool:
    """Delete the user's API token; True if there was one."""
    deleted, _ = ApiToken.objects.filter(user=user).delete()
    return bool(deleted)


def authenticate_api_token(*, raw: str) -> User | None:
    """The active user a bearer token belongs to, or None; notes when it was last used."""
    if not raw or not raw.startswith(API_TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=hash_api_token(raw), user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOKEN_USE_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def lockout_username(request, credentials: dict | None) -> str | None:
    """The sign-in name django-axes counts failures against: the email, lower-cased, as
    sign-in compares it (so "Ada@x" and "ada@x" share one count)."""
    name = (credentials or {}).get("username") or request.POST.get("username")
    return name.strip().lower() if name else None


def take_password_reset(*, email: str, client_ip: str) -> bool:
    """Count a password-reset request; False (send nothing) when its client or its address
    asked more than PASSWORD_RESET_CLIENT_RATE_PER_HOUR or PASSWORD_RESET_EMAIL_RATE_PER_HOUR
    times in the last hour. Counted whether or not the address has an account, so the
    answer says nothing about accounts."""
    if not rate_limit.take(
        scope="reset-client",
        subject=client_ip,
        limit=settings.PASSWORD_RESET_CLIENT_RATE_PER_HOUR,
    ):
        return False
    return rate_limit.take(
        scope="reset-email",
        subject=email.strip().lower(),
        limit=settings.PASSWORD_RESET_EMAIL_RATE_PER_HOUR,
    )
