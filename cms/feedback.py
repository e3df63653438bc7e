"""Telling the user why a service refused: each message of a `ValidationError` (or the text of a `PermissionDenied`)
becomes one error message shown on the next page (`error_messages`), or one error at the top of the form that is
shown again (`form_errors`)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError


def error_messages(request, error: ValidationError | PermissionDenied) -> None:
    """Add one error message per message the refusal carries."""
    texts = error.messages if isinstance(error, ValidationError) else [str(error)]
    for text in texts:
        messages.error(request, text)


def form_errors(form, error: ValidationError) -> None:
    """Show each message of a service's refusal at the top of the form (whatever field the service named)."""
    for text in error.messages:
        form.add_error(None, text)
