from collections import Counter, defaultdict
from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.core.exceptions import ServiceError
from apps.signers.models import Signer
from apps.signers.services import references_enroll
from sigverify.datasets import LAYOUTS, load_dataset
from sigverify.errors import DatasetError


class Command(BaseCommand):
    help = (
        "Bulk-enroll a dataset: one signer per writer (external id <prefix><writer>) with its first "
        "R genuine images as references. Idempotent: existing signers and images are skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("--data", required=True, help="dataset folder (raw CEDAR/GPDS tree or organised)")
        parser.add_argument("--layout", choices=LAYOUTS, default="folders")
        parser.add_argument("--references", type=int, default=5, help="genuine images to enroll per writer (R)")
        parser.add_argument("--writers", type=int, default=None, help="only the first N writers")
        parser.add_argument("--prefix", default=None, help="external id prefix (default: '<layout>-')")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, data, layout, references, writers, prefix, no_progress, **options):
        if references < 1:
            raise CommandError("--references must be at least 1")
        try:
            _, samples = load_dataset(Path(data), layout)
        except DatasetError as exc:
            raise CommandError(str(exc)) from exc
        prefix = f"{layout}-" if prefix is None else prefix

        by_writer = defaultdict(list)
        for sample in samples:
            if sample.is_genuine:
                by_writer[sample.writer].append(sample)
        chosen = list(by_writer)[:writers] if writers else list(by_writer)

        created_signers = 0
        enrolled = 0
        rejected = Counter()
        bar = tqdm(chosen, desc="enrolling writers", unit="writer", disable=no_progress, file=self.stderr._out)
        for writer in bar:
            signer, created = Signer.objects.get_or_create(
                external_id=f"{prefix}{writer}", defaults={"full_name": f"{layout.upper()} writer {writer}"}
            )
            created_signers += created
            wanted = sorted(by_writer[writer], key=lambda s: s.sample)[:references]
            handles = [open(s.path, "rb") for s in wanted]
            try:
                files = [File(h, name=Path(h.name).name) for h in handles]
                result = references_enroll(signer=signer, files=files)
            except ServiceError as exc:
                raise CommandError(exc.message) from exc
            finally:
                for h in handles:
                    h.close()
            enrolled += len(result.accepted)
            rejected.update(r["code"] for r in result.rejected)
            bar.set_postfix(enrolled=enrolled)

        skipped = rejected.pop("duplicate", 0)
        summary = (
            f"{len(chosen)} writers: {created_signers} new signers, {enrolled} references enrolled, "
            f"{skipped} already enrolled"
        )
        if rejected:
            summary += ", rejected: " + ", ".join(f"{n} {code}" for code, n in sorted(rejected.items()))
        self.stdout.write(self.style.SUCCESS(summary + "."))
