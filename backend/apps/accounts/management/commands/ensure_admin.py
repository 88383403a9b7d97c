import os

from django.core.management.base import BaseCommand

from apps.accounts.services import ensure_admin


class Command(BaseCommand):
    help = (
        "Create the admin superuser if it does not exist. The password comes from "
        "DJANGO_ADMIN_PASSWORD or is generated and printed once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("DJANGO_ADMIN_USERNAME", "admin"))
        parser.add_argument("--email", default=os.environ.get("DJANGO_ADMIN_EMAIL", ""))

    def handle(self, *args, username, email, **options):
        from_env = os.environ.get("DJANGO_ADMIN_PASSWORD") or None
        user, password = ensure_admin(username=username, password=from_env, email=email)
        if password is None:
            self.stdout.write(f"Admin user {user.get_username()!r} already exists; password unchanged.")
        elif from_env:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created admin user {user.get_username()!r} with the password from DJANGO_ADMIN_PASSWORD."
                )
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created admin user {user.get_username()!r} with password: {password}\n"
                    "  (shown only this once; change it in the admin, or set DJANGO_ADMIN_PASSWORD next time)"
                )
            )
