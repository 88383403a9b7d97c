"""The embedded default of ``make run``: no Redis, kombu's file-system broker, SQLite in a file.

A real ``celery -A config worker`` on the file-system broker verifies a batch sent by another
process, both on the same SQLite file, as ``backend/scripts/run_dev.py`` runs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from testsupport.servers import start_celery_worker
from testsupport.tiny_model import write_tiny_model

pytestmark = pytest.mark.slow
BACKEND_DIR = Path(__file__).resolve().parents[3]

DRIVER = textwrap.dedent(
    """
    import base64, io, json, time
    import django
    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from testsupport.synthetic_data import signature_bytes
    from testsupport.uploads import blank_png
    from apps.accounts.services import user_create_with_roles
    from apps.signers.services import references_enroll, signer_create
    from apps.verifications import batches
    from apps.verifications.models import Verification, VerificationBatch

    user = user_create_with_roles("integrator-1", "pw-Strong-123", roles=["integrator"])
    signer = signer_create(external_id="ACC-1", full_name="Ada")
    files = [SimpleUploadedFile(f"r{i}.png", signature_bytes(1, i), content_type="image/png") for i in range(3)]
    assert len(references_enroll(signer=signer, files=files, user=user).accepted) == 3
    items = [{"signer": "ACC-1", "image": base64.b64encode(signature_bytes(1, 10 + i)).decode(),
              "cheque_reference": f"E-{i}"} for i in range(5)]
    items[2]["image"] = base64.b64encode(blank_png()).decode()
    batch = batches.create_batch(user=user, items=items)
    deadline = time.monotonic() + 180
    while VerificationBatch.objects.get(pk=batch.pk).status in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.3)
    batch.refresh_from_db()
    print(json.dumps({
        "status": batch.status,
        "items": list(batch.items.order_by("index").values_list("status", "error_code")),
        "rows": Verification.objects.filter(batch=batch).count(),
    }))
    """
)


def test_make_runs_embedded_worker_processes_a_batch_on_the_file_system_broker(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "MEDIA_ROOT": str(tmp_path / "media"),
            "SIGVERIFY_BROKER_DIR": str(tmp_path / "broker"),
            "SIGVERIFY_TORCH_THREADS": "1",
            "SIGVERIFY_WORKER_TORCH_THREADS": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(BACKEND_DIR), env.get("PYTHONPATH")])),
        }
    )

    def manage(*args):
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=BACKEND_DIR, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stdout + result.stderr

    manage("migrate", "--noinput")
    manage("register_shipped_model", "--dir", str(write_tiny_model(tmp_path / "model")), "--activate")
    log_path = tmp_path / "worker.log"
    worker = start_celery_worker(env, log_path, queues="default", node=f"embedded-{uuid.uuid4().hex[:6]}@%h")
    try:
        result = subprocess.run(
            [sys.executable, "-c", DRIVER], cwd=BACKEND_DIR, env=env, capture_output=True, text=True, timeout=400
        )
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(timeout=60)
    worker_log = log_path.read_text(errors="replace")[-3000:]
    assert result.returncode == 0, result.stderr[-3000:] + worker_log
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert "filesystem://" in worker_log  # the embedded broker, no Redis
    assert outcome["status"] == "done", (outcome, worker_log)
    assert outcome["items"] == [["done", ""], ["done", ""], ["failed", "no_ink"], ["done", ""], ["done", ""]]
    assert outcome["rows"] == 4
