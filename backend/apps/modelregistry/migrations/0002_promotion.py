"""Promotion comes here from the training app. Its table exists already (renamed to
``modelregistry_promotion`` by ``training.0002``), so only the state is created; its content
type moves with it, so its permissions, the groups holding them and admin history are kept."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _move_content_type(apps, from_label, to_label):
    ContentType = apps.get_model("contenttypes", "ContentType")
    old = ContentType.objects.filter(app_label=from_label, model="promotion").first()
    if old is None:
        return
    if ContentType.objects.filter(app_label=to_label, model="promotion").exists():
        old.delete()  # created meanwhile (e.g. an earlier post_migrate): keep that one
    else:
        old.app_label = to_label
        old.save(update_fields=["app_label"])


def move_content_type_here(apps, schema_editor):
    _move_content_type(apps, "training", "modelregistry")


def move_content_type_back(apps, schema_editor):
    _move_content_type(apps, "modelregistry", "training")


class Migration(migrations.Migration):
    dependencies = [
        ("modelregistry", "0001_initial"),
        ("training", "0002_promotion_moves_to_modelregistry"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="Promotion",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("queued", "Queued"),
                                    ("running", "Running"),
                                    ("succeeded", "Succeeded"),
                                    ("failed", "Failed"),
                                ],
                                db_index=True,
                                default="queued",
                                max_length=12,
                            ),
                        ),
                        (
                            "total",
                            models.PositiveIntegerField(default=0, help_text="References to embed with this version."),
                        ),
                        (
                            "done",
                            models.PositiveIntegerField(default=0, help_text="References that have an embedding."),
                        ),
                        ("heartbeat_at", models.DateTimeField(blank=True, null=True)),
                        ("error", models.TextField(blank=True)),
                        ("task_id", models.CharField(blank=True, max_length=64)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("started_at", models.DateTimeField(blank=True, null=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "model_version",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="promotions",
                                to="modelregistry.modelversion",
                            ),
                        ),
                        (
                            "previous_version",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="modelregistry.modelversion",
                            ),
                        ),
                        (
                            "requested_by",
                            models.ForeignKey(
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="promotions",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["-created_at", "-id"],
                    },
                )
            ],
        ),
        migrations.RunPython(move_content_type_here, move_content_type_back),
    ]
