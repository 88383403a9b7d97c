"""Promotion belongs to the model registry: the table is renamed (rows kept) and the model
leaves this app's state; ``modelregistry.0002_promotion`` takes it over."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("training", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.AlterModelTable("promotion", "modelregistry_promotion")],
            state_operations=[migrations.DeleteModel("promotion")],
        )
    ]
