import json
import shutil

import pytest

from apps.modelregistry.services import model_version_register
from sigverify.synthetic_signatures import draw_signature
from testsupport.synthetic_data import png_bytes
from testsupport.tiny_model import write_tiny_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def version_with_plot(tmp_path):
    directory = write_tiny_model(tmp_path / "m", name="plotted", seed=3)
    (directory / "roc_test_R5.png").write_bytes(png_bytes(draw_signature(1)))
    (directory / "secret.png").write_bytes(b"not listed")
    card = json.loads((directory / "model_card.json").read_text())
    card["plots"] = ["roc_test_R5.png"]
    (directory / "model_card.json").write_text(json.dumps(card))
    version, _ = model_version_register(directory)
    return version


def test_listed_plot_is_served_to_model_viewers(client_for, version_with_plot):
    url = f"/api/v1/model-versions/{version_with_plot.pk}/plots/roc_test_R5.png/"
    response = client_for("ml_staff").get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content)[:4] == b"\x89PNG"


def test_unlisted_or_missing_plots_are_404(client_for, version_with_plot):
    staff = client_for("ml_staff")
    base = f"/api/v1/model-versions/{version_with_plot.pk}/plots"
    response = staff.get(f"{base}/secret.png/")
    assert response.status_code == 404 and "no plot named" in response.json()["error"]["message"]
    shutil.os.remove(f"{version_with_plot.weights_path}/roc_test_R5.png")
    assert staff.get(f"{base}/roc_test_R5.png/").status_code == 404


def test_plots_need_authentication(anon_client, version_with_plot):
    url = f"/api/v1/model-versions/{version_with_plot.pk}/plots/roc_test_R5.png/"
    assert anon_client.get(url).status_code == 401
