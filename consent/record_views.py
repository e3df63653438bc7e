"""Site-staff views of participants and consents (tablet-friendly), and the verification short link."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from regulatory import permissions
from regulatory.models import TrialPage
from regulatory.selectors import site_for_user

from . import selectors, services
from .blocks import neutral
from .forms import ConsentForm, DeathForm, WithdrawalForm
from .models import ConsentFormVersionPage, ConsentRecord, FormEffectivity
from .pki import SigningUnavailable
from .services.records import emergency_refusal_message, is_site_investigator, signing_suspended


def _site(request, trial: TrialPage, code: str):
    site = site_for_user(user=request.user, trial=trial, code=code)
    if site is None:
        raise Http404
    return site


def _participant(request, trial, code, participant_code):
    site = _site(request, trial, code)
    participant = selectors.participant_of_site(site=site, code=participant_code)
    if participant is None:
        raise Http404
    return site, participant


def _url(trial, name, *args):
    return trial.url + trial.reverse_subpage(name, args=list(args))


PARTICIPANTS_PER_PAGE = 50


def participants(request, *, trial: TrialPage, code: str):
    site = _site(request, trial, code)
    can_record = permissions.can_record_consent(request.user, site)
    if request.method == "POST":
        if not can_record:
            raise Http404
        try:
            participant = services.participant_create(actor=request.user, site=site)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("Participant %(code)s registered.") % {"code": participant.code})
            return HttpResponseRedirect(_url(trial, "participant_detail", site.code.lower(), participant.code))
    return TemplateResponse(request, "consent/participants.html", {
        "page": trial, "trial": trial, "site": site, "can_record": can_record,
        # One page at a time: a site may register thousands (bench/tmf_scale.py measured 3 s at 10^4 unpaginated).
        "participants": Paginator(selectors.participants_of_site(site=site), PARTICIPANTS_PER_PAGE).get_page(
            request.GET.get("page")),
        "tasks": selectors.open_tasks(site=site), "now": timezone.now(),
    })


def _closed_reason(reason: str) -> str:
    """Why a task was closed, in the reader's language: the pathway stores these few as fixed codes."""
    return {"continuation consent": _("continuation consent"),
            "continuation consent by the representative": _("continuation consent by the representative"),
            "patient's own continuation consent": _("the patient's own continuation consent"),
            "re-consent": _("re-consent")}.get(reason, reason)


def participant_detail(request, *, trial, code, participant_code):
    site, participant = _participant(request, trial, code, participant_code)
    can_record = permissions.can_record_consent(request.user, site) and participant.is_active
    choices = selectors.consent_choices(participant=participant) if can_record else []
    # An emergency inclusion is the investigator's attestation: not offered to a coordinator, who is told who may.
    emergency_for_investigator = (any(v.kind == "emergency" for v in choices)
                                  and not is_site_investigator(request.user, site))
    if emergency_for_investigator:
        choices = [v for v in choices if v.kind != "emergency"]
    tasks = list(participant.tasks.order_by("-created_at"))
    for task in tasks:
        task.closed_label = _closed_reason(task.closed_reason)
    return TemplateResponse(request, "consent/participant.html", {
        "page": trial, "trial": trial, "site": site, "participant": participant, "can_record": can_record,
        "records": participant.consents.select_related("version", "obtained_by").order_by("sequence"),
        "tasks": tasks, "choices": choices,
        "emergency_for_investigator": emergency_for_investigator and participant.status == "screening",
        "withdrawal_form": WithdrawalForm(), "death_form": DeathForm(), "now": timezone.now(),
    })


def consent_new(request, *, trial, code, participant_code, version_id):
    site, participant = _participant(request, trial, code, participant_code)
    if not permissions.can_record_consent(request.user, site):
        raise Http404
    choices = selectors.consent_choices(participant=participant)
    if request.method == "POST":  # also a form opened before a newer version took effect: the service checks the
        # version against the signing time, and its message names the version in force then
        choices += [period.version for period in FormEffectivity.objects.filter(site=site).select_related("version")]
    version = next((v for v in choices if v.pk == version_id), None)  # no lookup: SQLite overflows past 64 bits
    if version is None:
        raise Http404
    context = {"page": trial, "trial": trial, "site": site, "participant": participant, "version": version}
    if version.kind == "emergency" and not is_site_investigator(request.user, site):
        # Neither the form nor the service: the page says who records an emergency inclusion; nothing is written.
        return TemplateResponse(request, "consent/consent_form.html", {
            **context, "refusal": emergency_refusal_message(site)}, status=403)
    versions = ConsentFormVersionPage.objects.filter(pk=version.pk)
    statements = [b["value"] for b in neutral(version.consent) if b["type"] == "consent_statement"]
    initial = {"version": version.pk, "expected_sequence": participant.consents.count(),
               "signed_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")}
    form = ConsentForm(request.POST or None, request.FILES or None, versions=versions.filter(pk=version.pk),
                       statements=statements, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            record = services.consent_record_create(
                actor=request.user, participant=participant, data=_input(form),
                username=form.cleaned_data["username"], password=form.cleaned_data["password"],
                expected_sequence=form.cleaned_data["expected_sequence"])
        except ValidationError as error:
            form.add_error(None, error)
        except SigningUnavailable as error:
            form.add_error(None, _("The consent could not be signed, so nothing was recorded: %(error)s")
                           % {"error": error})
        except PermissionDenied:
            raise Http404 from None
        else:
            messages.success(request, _("Consent recorded and signed: %(record)s.") % {"record": record})
            return HttpResponseRedirect(_url(trial, "participant_detail", site.code.lower(), participant.code))
    return TemplateResponse(request, "consent/consent_form.html", {
        **context, "form": form, "signing_suspended": signing_suspended(request.user),
    }, status=400 if form.is_bound and form.errors else 200)


def _input(form: ConsentForm) -> services.ConsentInput:
    data = form.cleaned_data
    signature, source = None, ConsentRecord.SignatureSource.NONE
    if data.get("signature_scan"):
        data["signature_scan"].seek(0)
        signature = services.normalise_signature_image(data["signature_scan"].read())
        source = ConsentRecord.SignatureSource.SCAN
    elif data.get("signature_drawn"):
        signature = services.decode_drawn_signature(data["signature_drawn"])
        source = ConsentRecord.SignatureSource.DRAWN
    return services.ConsentInput(
        version=data["version"], signed_at=data["signed_at"], outcome=data["outcome"], answers=form.answers(),
        surrogate_relationship=data["surrogate_relationship"], independence_attested=data["independence_attested"],
        emergency_conditions_attested=data["emergency_conditions_attested"],
        no_prior_objection_attested=data["no_prior_objection_attested"],
        signer_role=data.get("signer_role") or "", patient_unable_attested=data.get("patient_unable_attested", False),
        objects_to_data_use=data.get("objects_to_data_use"), witness_name=data["witness_name"],
        signature_png=signature, signature_source=source)


def _participant_event(request, *, trial, code, participant_code, form_class, missing: str, act, done: str):
    """A withdrawal or a death, posted from the participant's page: the service decides, the page says."""
    site, participant = _participant(request, trial, code, participant_code)
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, missing)
    else:
        try:
            act(participant, form.cleaned_data)
        except PermissionDenied:
            raise Http404 from None
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            messages.success(request, done % {"code": participant.code})
    return HttpResponseRedirect(_url(trial, "participant_detail", site.code.lower(), participant.code))


@require_POST
def withdraw(request, *, trial, code, participant_code):
    return _participant_event(
        request, trial=trial, code=code, participant_code=participant_code, form_class=WithdrawalForm,
        missing=_("Say how the withdrawal was expressed."), done=_("%(code)s has withdrawn."),
        act=lambda participant, data: services.participant_withdraw(
            actor=request.user, participant=participant, objects_to_data_use=data["objects_to_data_use"],
            reason=data["reason"]))


@require_POST
def record_death(request, *, trial, code, participant_code):
    return _participant_event(
        request, trial=trial, code=code, participant_code=participant_code, form_class=DeathForm,
        missing=_("Give the date and time of death."), done=_("The death of %(code)s is recorded."),
        act=lambda participant, data: services.participant_record_death(
            actor=request.user, participant=participant, died_at=data["died_at"]))


def consent_pdf(request, *, trial, code, participant_code, sequence):
    site, participant = _participant(request, trial, code, participant_code)
    record = get_object_or_404(ConsentRecord, participant=participant, sequence=sequence)
    filename = f"{participant.code}-consentement-{record.sequence}.pdf"
    response = FileResponse(record.pdf.open("rb"), content_type="application/pdf", as_attachment=True,
                            filename=filename)
    response["X-Content-SHA256"] = record.pdf_sha256
    return response


def tasks(request, *, trial, code):
    site = _site(request, trial, code)
    return TemplateResponse(request, "consent/tasks.html", {
        "page": trial, "trial": trial, "site": site, "tasks": selectors.open_tasks(site=site),
        "now": timezone.now()})


@login_required
def short_link(request, token: str):
    """Where a consent PDF's QR code leads: the record it proves, for those allowed to see its site."""
    record = selectors.record_by_token(token)
    if record is None or not permissions.can_access_site(request.user, record.participant.site):
        raise Http404
    trial = record.participant.site.trial
    return TemplateResponse(request, "consent/record_link.html", {
        "record": record, "trial": trial,
        "pdf_url": _url(trial, "consent_pdf", record.participant.site.code.lower(), record.participant.code,
                        record.sequence)})
