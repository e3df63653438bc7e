"""Remote consent of a relative: the relative's pages (no account: a one-time link and a one-time code; nothing of
the participant beyond the code and the form; never cached, never indexed) and the investigator's actions from the
participant's page (invite, cancel, countersign). The services decide (`consent/services/remote.py`; the relative's
side: `remote_relative.py`)."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cms.feedback import error_messages
from regulatory import permissions
from regulatory.accounts import current_address

from .models import RemoteConsentInvitation
from .pki import SigningUnavailable
from .remote_forms import ATTEMPTS_SALT, RemoteCodeForm, RemoteConsentForm, RemoteCountersignForm, RemoteInviteForm
from .services import decode_drawn_signature, typed_signature_image
from .services import remote as service
from .services import remote_relative as relative
from .site_pages import participant_or_404, subpage_url

VERIFIED = "remote-consent-verified"


def _private(view):
    """The relative's pages: never stored by any cache, never indexed; the address (with its token) is never sent
    to another site ("same-origin": "no-referrer" would make the browser send `Origin: null`, refused by CSRF)."""

    @wraps(view)
    def wrapped(request, token, *args, **kwargs):
        response = view(request, token, *args, **kwargs)
        add_never_cache_headers(response)
        response["X-Robots-Tag"] = "noindex, nofollow"
        response["Referrer-Policy"] = "same-origin"
        return response

    return wrapped


def _invitation_or_page(request, token):
    """The invitation of this link, with the page's language (the relative's choice, else the invitation's); or
    the page saying why the link does not open."""
    invitation = relative.remote_invitation_by_token(token)
    _activate(request, invitation)
    if invitation is None:
        relative.address_allowed(current_address())  # guessing links counts like guessing codes
        return None, TemplateResponse(request, "consent/remote/closed.html", {
            "message": _("This link is not valid. Check that you opened the whole address from the e-mail.")},
            status=404)
    closed = relative.closed_message(invitation)
    if closed:
        return None, TemplateResponse(request, "consent/remote/closed.html", {
            "message": closed, "done": invitation.used_at is not None}, status=410)
    return invitation, None


def _activate(request, invitation) -> None:
    if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES and invitation is not None:
        translation.activate(invitation.language)
        request.LANGUAGE_CODE = translation.get_language()


def _verified(request, invitation) -> bool:
    return (invitation.code_verified_at is not None
            and request.session.get(VERIFIED) == invitation.token_sha256)


@_private
def remote_code(request, token):
    invitation, refusal = _invitation_or_page(request, token)
    if refusal:
        return refusal
    if _verified(request, invitation):
        return HttpResponseRedirect(reverse("remote_consent_form", args=[token]))
    form = RemoteCodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not form.is_valid():
            status = 400
        else:
            try:
                relative.remote_code_verify(invitation=invitation, code=form.cleaned_data["code"],
                                           ip=current_address())
            except ValidationError as error:
                form.add_error("code", error)
                status = 400
            else:
                request.session.cycle_key()
                request.session[VERIFIED] = invitation.token_sha256
                return HttpResponseRedirect(reverse("remote_consent_form", args=[token]))
    return TemplateResponse(request, "consent/remote/code.html", {
        "invitation": invitation, "form": form, "code": invitation.participant.code}, status=status)


@_private
def remote_consent(request, token):
    invitation, refusal = _invitation_or_page(request, token)
    if refusal:
        return refusal
    if not _verified(request, invitation):
        return HttpResponseRedirect(reverse("remote_consent", args=[token]))
    version = invitation.version
    form = RemoteConsentForm(request.POST or None, version=version, participant_code=invitation.participant.code)
    attempts = {}
    error = None
    if request.method == "POST" and not form.is_valid():
        error = ValidationError(_("Some answers could not be read: check them, then sign again."))
    if request.method == "POST" and form.is_valid():
        attempts = form.attempts_now()
        try:
            answers = _answers(form, attempts)
            relative.remote_consent_submit(invitation=invitation, answers=answers, ip=current_address())
        except ValidationError as problem:
            error = problem
        else:
            request.session[VERIFIED] = ""
            request.session["remote-consent-done"] = invitation.token_sha256
            return HttpResponseRedirect(reverse("remote_consent_done", args=[token]))
    if request.method != "POST":
        relative.remote_information_shown(invitation=invitation)
    return TemplateResponse(request, "consent/remote/consent.html", {
        "invitation": invitation, "version": version, "form": form, "code": invitation.participant.code,
        "rows": form.rows(version.consent), "question_rows": form.question_rows(attempts), "error": error,
        "attempts_token": signing.dumps({str(k): v for k, v in attempts.items()}, salt=ATTEMPTS_SALT),
        "information_read": request.method == "POST",
    }, status=400 if request.method == "POST" else 200)


def _answers(form: RemoteConsentForm, attempts) -> relative.RemoteAnswers:
    data = form.cleaned_data
    signature, source = None, ""
    if data.get("signature_drawn"):
        signature, source = decode_drawn_signature(data["signature_drawn"]), "drawn"
    elif data.get("signature_typed"):
        signature, source = typed_signature_image(data["signature_typed"]), "typed"
    return relative.RemoteAnswers(
        statements={i: data.get(f"statement_{i}") or "" for i in range(form.counts["consent_statement"])},
        ticks={i: bool(data.get(f"tick_{i}")) for i in range(form.counts["checkbox"])},
        fills={i: data.get(f"fill_{i}") or "" for i in range(form.counts["fill_in"])},
        comprehension=attempts, relationship=data.get("relationship") or "",
        independence_attested=bool(data.get("independence_attested")), signature_png=signature,
        signature_source=source, information_seconds=data.get("information_seconds"))


@_private
def remote_done(request, token):
    invitation = relative.remote_invitation_by_token(token)
    _activate(request, invitation)
    if invitation is None or request.session.get("remote-consent-done") != invitation.token_sha256:
        raise Http404
    return TemplateResponse(request, "consent/remote/done.html", {"invitation": invitation})


# --- The investigator's side, from the participant's page -------------------------------------------------------


@require_POST
def remote_invite(request, *, trial, code, participant_code):
    site, participant = participant_or_404(request, trial, code, participant_code)
    if not permissions.is_site_staff(request.user, site):
        raise Http404
    form = RemoteInviteForm(request.POST, versions=service.remote_versions(participant=participant))
    if not form.is_valid():
        messages.error(request, _("Choose the form and give the relative's e-mail address. Nothing was sent."))
    else:
        version = next(v for v in service.remote_versions(participant=participant)
                       if v.pk == form.cleaned_data["version"])
        try:
            invitation = service.remote_invitation_create(actor=request.user, participant=participant,
                                                          version=version, email=form.cleaned_data["email"])
        except PermissionDenied:
            raise Http404 from None
        except ValidationError as error:
            error_messages(request, error)
        else:
            messages.success(request, _("Invitation sent: the link and, separately, the code. It expires on "
                                        "%(until)s.") % {"until": date_format(timezone.localtime(invitation.expires_at),
                                                                         "DATETIME_FORMAT")})
    return HttpResponseRedirect(subpage_url(trial, "participant_detail", site.code.lower(), participant.code))


@require_POST
def remote_cancel(request, *, trial, code, participant_code, invitation_id: int):
    site, participant = participant_or_404(request, trial, code, participant_code)
    invitation = get_object_or_404(RemoteConsentInvitation, pk=invitation_id, participant=participant)
    try:
        service.remote_invitation_cancel(actor=request.user, invitation=invitation)
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as error:
        error_messages(request, error)
    else:
        messages.success(request, _("Invitation cancelled; the relative's e-mail address is erased."))
    return HttpResponseRedirect(subpage_url(trial, "participant_detail", site.code.lower(), participant.code))


@require_POST
def remote_countersign(request, *, trial, code, participant_code, invitation_id: int):
    site, participant = participant_or_404(request, trial, code, participant_code)
    if not permissions.is_site_staff(request.user, site):
        raise Http404
    invitation = get_object_or_404(RemoteConsentInvitation, pk=invitation_id, participant=participant)
    form = RemoteCountersignForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Type your user name and your password to sign. Nothing was recorded."))
    else:
        try:
            record = service.remote_consent_countersign(
                actor=request.user, invitation=invitation, username=form.cleaned_data["username"],
                password=form.cleaned_data["password"], discussed=form.cleaned_data["discussed"])
        except PermissionDenied:
            raise Http404 from None
        except ValidationError as error:
            error_messages(request, error)
        except SigningUnavailable as error:
            messages.error(request, _("The consent could not be signed, so nothing was recorded: %(error)s")
                           % {"error": error})
        else:
            messages.success(request, _("Remote consent countersigned and recorded: %(record)s.") % {"record": record})
    return HttpResponseRedirect(subpage_url(trial, "participant_detail", site.code.lower(), participant.code))


def participant_context(request, *, site, participant) -> dict:
    """What the participant's page shows of remote consents: the invitations (never their address) with their
    state, the form to invite a relative (who may record consents at the site), and the countersignature form
    (offered to an investigator of the site; anyone else is told who may)."""
    now = timezone.now()
    invitations = list(participant.remote_invitations.select_related("version", "created_by", "record"))
    for invitation in invitations:
        invitation.state_now = invitation.state(now)
        invitation.state_label = RemoteConsentInvitation.State(invitation.state_now).label
        invitation.needs_discussion = any(
            len(attempts) > 1 for attempts in invitation.comprehension.values())
    may_invite = participant.is_active and permissions.can_record_consent(request.user, site)
    pending = any(i.state_now in (RemoteConsentInvitation.State.OPEN, RemoteConsentInvitation.State.SIGNED)
                  for i in invitations)
    versions = service.remote_versions(participant=participant) if may_invite and not pending else []
    refused = service.records.kinds_not_offered(participant=participant, kinds=["surrogate"]) if versions else {}
    return {
        "remote_invitations": invitations,
        # the identity checks (addresses) are the site's: the sponsor and inspectors see the states only
        "remote_staff": permissions.is_site_staff(request.user, site),
        "remote_may_cancel": permissions.can_record_consent(request.user, site),
        "remote_invite_form": RemoteInviteForm(versions=versions) if versions and not refused else None,
        "remote_countersign_form": RemoteCountersignForm(),
        "remote_hours": settings.TRIALDOCS_REMOTE_CONSENT_HOURS,
    }
