from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("verifications", "0003_reference_count_and_growth"),
    ]

    operations = [
        migrations.AddField(
            model_name="verification",
            name="reason",
            field=models.JSONField(
                blank=True,
                help_text='Why the decision is not the score\'s: {"code": "image_quality", "checks": [...], '
                '"message": ...} when the image failed a quality check; null otherwise.',
                null=True,
            ),
        ),
    ]
