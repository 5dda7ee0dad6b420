import django.db.models.deletion

import accounts.models
from django.db import migrations, models

DEFAULT_ORGANIZATION_NAME = "Default organisation"


def quotes_to_their_organization(apps, schema_editor):
    """Quotes so far belong to the default organisation (every user is in it)."""
    Organization = apps.get_model("accounts", "Organization")
    Quote = apps.get_model("quotes", "Quote")
    org, _ = Organization.objects.get_or_create(name=DEFAULT_ORGANIZATION_NAME)
    Quote.objects.filter(organization__isnull=True).update(organization=org)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_organization"),
        ("quotes", "0005_quote_has_takers"),
    ]

    operations = [
        migrations.AddField(
            model_name="quote",
            name="organization",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="quotes",
                to="accounts.organization",
            ),
        ),
        migrations.RunPython(quotes_to_their_organization, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="quote",
            name="organization",
            field=models.ForeignKey(
                default=accounts.models.default_organization_id,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="quotes",
                to="accounts.organization",
            ),
        ),
    ]
