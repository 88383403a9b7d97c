"""Promotion came from the training app: migrating keeps its rows, its permissions and the
groups that hold them (the table is renamed, the content type moves)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

BEFORE_THE_MOVE = [("training", "0001_initial"), ("modelregistry", "0001_initial")]


def migrate(targets):
    """Migrate to ``targets``; the models as the database then has them (every app's)."""
    MigrationExecutor(connection).migrate(targets)
    loader = MigrationLoader(connection)
    return loader.project_state([key for key in loader.applied_migrations if key in loader.graph.nodes]).apps


@pytest.mark.django_db(transaction=True)
def test_promotion_rows_and_permissions_survive_the_move_from_training():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    old = migrate(BEFORE_THE_MOVE)
    try:
        version = old.get_model("modelregistry", "ModelVersion").objects.create(
            name="moved", weights_path="/nowhere", sha256="a" * 64
        )
        old.get_model("training", "Promotion").objects.create(
            model_version_id=version.pk, status="succeeded", total=3, done=3
        )
        content_type = old.get_model("contenttypes", "ContentType").objects.get_or_create(
            app_label="training", model="promotion"
        )[0]
        permission = old.get_model("auth", "Permission").objects.get_or_create(
            content_type=content_type, codename="add_promotion", defaults={"name": "Can add promotion"}
        )[0]
        group = old.get_model("auth", "Group").objects.create(name="promoters")
        group.permissions.add(permission)
    finally:
        new = migrate(latest)

    promotion = new.get_model("modelregistry", "Promotion").objects.get()
    assert (promotion.status, promotion.total, promotion.done, promotion.model_version.name) == (
        "succeeded",
        3,
        3,
        "moved",
    )
    held = new.get_model("auth", "Group").objects.get(name="promoters").permissions.get()
    assert (held.content_type.app_label, held.codename) == ("modelregistry", "add_promotion")
    assert (
        not new.get_model("contenttypes", "ContentType")
        .objects.filter(app_label="training", model="promotion")
        .exists()
    )
