from datetime import timedelta

from django.core.management.base import BaseCommand

from apps.core.orphans import sweep_orphan_files


class Command(BaseCommand):
    help = (
        "Delete stored reference and verification images that no database row points at "
        "(left only if a process was killed between saving a file and committing its row). "
        "Safe to run from cron."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-minutes",
            type=float,
            default=60.0,
            help="grace period: younger files may belong to a request still running (default 60)",
        )
        parser.add_argument("--dry-run", action="store_true", help="list the orphans, delete nothing")

    def handle(self, *args, **options):
        result = sweep_orphan_files(timedelta(minutes=options["older_than_minutes"]), dry_run=options["dry_run"])
        for path in result.orphans:
            self.stdout.write(f"{'orphan' if options['dry_run'] else 'removed'}: {path}")
        self.stdout.write(
            f"checked {result.checked} stored image(s): {len(result.orphans)} orphan(s), {result.removed} removed"
        )
