import django.db.models.deletion
from django.db import migrations, models

DEFAULT_ORGANIZATION_NAME = "Default organisation"


def make_default_organization(apps, schema_editor):
    """A fresh install has one organisation, and every user so far belongs to it."""
    Organization = apps.get_model("accounts", "Organization")
    User = apps.get_model("accounts", "User")
    org, _ = Organization.objects.get_or_create(name=DEFAULT_ORGANIZATION_NAME)
    User.objects.filter(organization__isnull=True).update(organization=org)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_api_token"),
    ]

    operations = [
        migrations.CreateModel(
            name="Organization",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=200, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={"ordering": ["name"]},
        ),
        migrations.AddField(
            model_name="user",
            name="organization",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="members",
                to="accounts.organization",
            ),
        ),
        migrations.RunPython(make_default_organization, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="user",
            name="organization",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="members",
                to="accounts.organization",
            ),
        ),
    ]
