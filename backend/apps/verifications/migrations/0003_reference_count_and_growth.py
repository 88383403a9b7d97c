from django.db import migrations, models


def count_from_distances(apps, schema_editor):
    # Older rows: one distance per reference compared, so R is the length of ``distances``.
    # The historical model has a plain manager, so the audit log's no-update guard does not apply here.
    Verification = apps.get_model("verifications", "Verification")
    for pk, distances in Verification.objects.values_list("pk", "distances").iterator():
        Verification.objects.filter(pk=pk).update(reference_count=len(distances or []))


class Migration(migrations.Migration):
    dependencies = [
        ("verifications", "0002_verification_batches"),
    ]

    operations = [
        migrations.AddField(
            model_name="verification",
            name="reference_count",
            field=models.PositiveSmallIntegerField(
                default=0, help_text="R: how many references the questioned signature was compared with."
            ),
        ),
        migrations.RunPython(count_from_distances, migrations.RunPython.noop),
        migrations.AddField(
            model_name="review",
            name="reference_growth",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text='After a genuine call: whether the signature joined the references, e.g. {"added": true, "reference": 12} or {"added": false, "code": "policy_off", "message": "..."}.',
            ),
        ),
    ]
