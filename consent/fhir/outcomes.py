"""The API's answers, errors included, as `application/fhir+json`: a `Refusal` (HTTP status, OperationOutcome issue
code, message) becomes an OperationOutcome (`refusal_response`)."""

from __future__ import annotations

from django.http import HttpResponse

from . import mapping

CONTENT_TYPE = "application/fhir+json; charset=utf-8"


class Refusal(Exception):  # noqa: N818 (an answer, not a failure)
    """An error answer: HTTP status, OperationOutcome issue code, message."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def _response(text: str, status: int = 200, headers: dict | None = None) -> HttpResponse:
    response = HttpResponse(text, status=status, content_type=CONTENT_TYPE)
    response["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def operation_outcome(version: str, code: str, message: str, severity: str = "error") -> str:
    data = {"resourceType": "OperationOutcome",
            "issue": [{"severity": severity, "code": code, "diagnostics": message}]}
    return mapping.validated(version if version in mapping.VERSIONS else mapping.R5, data)


def refusal_response(version: str, refusal: Refusal) -> HttpResponse:
    return _response(operation_outcome(version, refusal.code, refusal.message), refusal.status, refusal.headers)
