from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone

DEFAULT_ORGANIZATION_NAME = "Default organisation"


class Organization(models.Model):
    """A customer of the portal. Prices are its own: a quote reuses or waits on quotes of
    its own organisation only (docs/architecture.md, "Tenancy")."""

    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def default_organization() -> Organization:
    """The organisation people belong to unless staff put them elsewhere (a data migration
    makes it; made again here if deleted)."""
    org, _ = Organization.objects.get_or_create(name=DEFAULT_ORGANIZATION_NAME)
    return org


def default_organization_id() -> int:
    """The default organisation's id (the default of a quote's organisation)."""
    return default_organization().pk


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> "User":
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        if not extra["is_staff"] or not extra["is_superuser"]:
            raise ValueError("A superuser must have is_staff and is_superuser set.")
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> "User":
        # Sign-in is case-insensitive on the email.
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A portal user; the contact details are those a Momentum lead needs."""

    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    company = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    is_staff = models.BooleanField(
        default=False, help_text="Can sign in to the admin site and manage every job."
    )
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="members")
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        help_text="The IANA zone (e.g. America/Denver) this user's browser last reported; "
        "results files and the API state times in it. Empty: the site's TIME_ZONE.",
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs) -> None:
        # The one home of "a new user belongs to the default organisation".
        if self.organization_id is None:
            self.organization = default_organization()
        super().save(*args, **kwargs)

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return (self.full_name.split() or [self.email])[0]


class ApiToken(models.Model):
    """A user's key to the JSON API. Only its SHA-256 is stored: the token itself is shown
    once, when it is made, and cannot be read back (like a GitHub personal token)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="api_token")
    # sha256 of the whole token, hex; tokens are random (256 bits), so a fast hash is enough.
    key_hash = models.CharField(max_length=64, unique=True)
    # The token's first characters, so that a user can tell which token a program holds.
    prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"API token {self.prefix}… of {self.user}"
