"""``GET /api/v1/`` lists the resources, and the Swagger UI needs nothing from the internet."""

import re
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import resolve

pytestmark = pytest.mark.django_db


def test_the_api_root_lists_every_resource_by_a_url_that_resolves(client):
    response = client.get("/api/v1/")
    assert response.status_code == 200
    body = response.json()
    assert {"signers", "verifications", "verification-batches", "model-versions", "training-jobs", "docs"} <= set(body)
    assert urlparse(body["signers"]).path == "/api/v1/signers/"
    for name, url in body.items():
        path = urlparse(url).path
        assert path.startswith("/api/v1/") and resolve(path), name


def test_swagger_ui_loads_its_assets_from_the_api_itself(client_for):
    page = client_for("ml_staff").get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r"""(?:src|href)=["']([^"']+\.(?:js|css|png))["']""", html)
    assert any("swagger-ui" in a for a in assets), assets
    for asset in assets:
        assert asset.startswith(settings.STATIC_URL), asset  # no CDN: the page works offline
        assert finders.find(asset.removeprefix(settings.STATIC_URL)), asset  # and the file is shipped
    assert "cdn." not in html and "jsdelivr" not in html
