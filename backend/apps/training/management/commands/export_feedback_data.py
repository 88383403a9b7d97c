from django.core.management.base import BaseCommand, CommandError

from apps.training.feedback import export_labelled_data


class Command(BaseCommand):
    help = (
        "Export enrolled references (genuine) and human-reviewed verifications (the reviewer's "
        "final call) as an organised `folders` dataset with manifest in organized_data/<name>/."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", default="bank-feedback", help="Folder name under organized_data/.")
        parser.add_argument("--no-references", action="store_true", help="Leave out the enrolled references.")
        parser.add_argument("--no-reviewed", action="store_true", help="Leave out the reviewed verifications.")

    def handle(self, *args, name, no_references, no_reviewed, **options):
        try:
            result = export_labelled_data(name, include_references=not no_references, include_reviewed=not no_reviewed)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{result.path}: {result.samples} images of {result.writers} signers "
            f"({result.references} references, {result.reviewed_genuine} reviewed genuine, "
            f"{result.reviewed_forged} reviewed forgeries); {len(result.skipped)} skipped"
        )
        for source, reason in result.skipped[:20]:
            self.stdout.write(f"  skipped {source}: {reason}")
