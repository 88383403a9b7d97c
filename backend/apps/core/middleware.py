"""Unknown URLs under ``/api/`` answer 404 in the API's error format, not Django's HTML page."""

from __future__ import annotations

from django.http import JsonResponse

from .exceptions import error_body


class ApiNotFoundMiddleware:
    """Turns the 404 of an ``/api/`` path that no route matched into the JSON error format.

    It sits above ``CommonMiddleware``, so a path that only lacks its slash is still redirected
    to it first (APPEND_SLASH). The views' own 404s are JSON already and pass unchanged; other
    URLs keep Django's 404.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 404
            and request.path_info.startswith("/api/")
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return JsonResponse(error_body("not_found", "Not found."), status=404)
        return response
