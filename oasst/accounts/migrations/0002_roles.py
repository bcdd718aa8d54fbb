"""Create the role groups and give each its permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_PERMISSIONS = {
    "volunteer": [],
    "moderator": ["accounts.moderate", "accounts.view_user", "accounts.change_user"],
    "data": ["accounts.export_data"],
    "admin": [
        "accounts.moderate",
        "accounts.export_data",
        "accounts.manage_models",
        "accounts.view_user",
        "accounts.change_user",
        "accounts.add_apiclient",
        "accounts.view_apiclient",
        "accounts.change_apiclient",
        "accounts.delete_apiclient",
        "accounts.view_apitoken",
        "accounts.change_apitoken",
        "accounts.delete_apitoken",
        "auth.view_group",
    ],
}


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; make them now.
    for label in ("auth", "accounts"):
        config = apps.get_app_config(label)
        config.models_module = True
        create_permissions(config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for dotted in perms:
            app_label, codename = dotted.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, remove_roles)]
