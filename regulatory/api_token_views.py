"""The Wagtail admin page of FHIR API tokens: an administrator or a trial's sponsor sees the tokens of the trials
they manage and revokes one (with a reason, audited). Tokens are issued at the command line
(`manage.py issue_api_token`), where the token is shown once."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from . import permissions
from .services.api_tokens import api_token_revoke


def api_tokens_view(request):
    if not permissions.trials_managed(request.user).exists():
        raise Http404
    if request.method == "POST":
        raw_pk = request.POST.get("token", "")
        if not raw_pk.isdigit() or len(raw_pk) > 12:
            raise Http404
        token = get_object_or_404(permissions.api_tokens_managed(request.user), pk=int(raw_pk))
        reason = request.POST.get("reason", "").strip()[:500]
        try:
            if not reason:
                raise ValidationError(_("Give the reason for revoking the token."))
            api_token_revoke(actor=request.user, token=token, reason=reason)
        except PermissionDenied as error:
            raise Http404 from error
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Token %(hint)s… revoked.") % {"hint": token.hint})
        return redirect(reverse("api_tokens"))
    tokens = (permissions.api_tokens_managed(request.user)
              .select_related("user", "trial", "site", "created_by").order_by("-created_at")[:500])
    return TemplateResponse(request, "regulatory/api_tokens.html", {
        "tokens": tokens, "header_title": _("Tokens of the FHIR API"), "page_title": _("Tokens of the FHIR API")})
