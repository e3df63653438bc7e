"""Telling the user why something was refused: each message of a `ValidationError` (or the text of a
`PermissionDenied`) becomes one error message of Django's messages framework, shown on the next page."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError


def error_messages(request, error: ValidationError | PermissionDenied) -> None:
    """Add one error message per message the refusal carries."""
    texts = error.messages if isinstance(error, ValidationError) else [str(error)]
    for text in texts:
        messages.error(request, text)
