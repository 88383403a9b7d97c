"""Create the role groups (clerk, integrator, ml_staff, admin) with their permissions."""

from django.db import migrations


def create_roles(apps, schema_editor):
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    from apps.accounts.services import sync_roles

    # Permissions are normally created after migrate; create them now so the groups get them.
    for app_config in global_apps.get_app_configs():
        # Restore the real value afterwards: post_migrate skips apps whose models_module is None,
        # so leaving None here would stop content types and permissions of later apps (training).
        original = app_config.models_module
        app_config.models_module = True
        try:
            create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
        finally:
            app_config.models_module = original
    sync_roles(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def drop_roles(apps, schema_editor):
    from apps.accounts.roles import ROLE_NAMES

    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_NAMES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("authtoken", "0004_alter_tokenproxy_options"),
        ("signers", "0001_initial"),
        ("modelregistry", "0001_initial"),
        ("verifications", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, drop_roles)]
