import secrets

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.models import User

DEMO_EMAIL = "demo@example.com"


class Command(BaseCommand):
    help = "Create the demo login (demo@example.com) if it is absent and print its password."

    def handle(self, *args, **options) -> None:
        saved = settings.VAR_DIR / "demo-login.txt"
        user = User.objects.filter(email=DEMO_EMAIL).first()
        if user is None:
            password = secrets.token_urlsafe(9)
            User.objects.create_user(
                DEMO_EMAIL,
                password,
                full_name="Demo User",
                company="Demo Reseller Inc.",
                phone="555-0100",
                is_staff=True,
                is_superuser=True,
            )
            saved.write_text(password + "\n")
            saved.chmod(0o600)
        elif saved.exists():
            password = saved.read_text().strip()
        else:
            self.stdout.write(
                f"The demo login {DEMO_EMAIL} exists; set a new password with "
                f"`manage.py changepassword {DEMO_EMAIL}`."
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"\n  Portal: {settings.PORTAL_URL}/\n  Sign in: {DEMO_EMAIL} / {password}\n"
            )
        )
