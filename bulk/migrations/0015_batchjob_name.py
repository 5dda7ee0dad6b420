from django.db import migrations, models
from django.db.models import F


def name_jobs_by_their_file(apps, schema_editor):
    BatchJob = apps.get_model("bulk", "BatchJob")
    BatchJob.objects.filter(name="").update(name=F("file_name"))


class Migration(migrations.Migration):
    dependencies = [
        ("bulk", "0014_batchjob_keeps_estimate_at_submit"),
    ]

    operations = [
        migrations.AddField(
            model_name="batchjob",
            name="name",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.RunPython(name_jobs_by_their_file, migrations.RunPython.noop),
    ]
