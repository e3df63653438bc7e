"""The consent form on the tablet: the information note, then the consent part, the ceremony's signers and the
signature of whoever obtained it (both components of their electronic signature)."""

from datetime import UTC, datetime

from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from regulatory import permissions

from . import selectors, services
from .blocks import neutral
from .forms import ConsentForm
from .models import ConsentFormVersionPage, ConsentRecord, FormEffectivity
from .pki import SigningUnavailable
from .services.records import emergency_refusal_message, is_site_investigator, signing_suspended
from .site_pages import participant_or_404, subpage_url


def consent_new(request, *, trial, code, participant_code, version_id):
    site, participant = participant_or_404(request, trial, code, participant_code)
    if not permissions.is_site_staff(request.user, site):
        raise Http404
    choices = selectors.consent_choices(participant=participant)
    if request.method == "POST":  # also a form opened before a newer version took effect: the service checks the
        # version against the signing time, and its message names the version in force then
        choices += [period.version for period in FormEffectivity.objects.filter(site=site).select_related("version")]
    version = next((v for v in choices if v.pk == version_id), None)  # no lookup: SQLite overflows past 64 bits
    if version is None:
        raise Http404
    context = {"page": trial, "trial": trial, "site": site, "participant": participant, "version": version}
    refused = services.kinds_not_offered(participant=participant, kinds=[version.kind])
    if refused:  # never a fillable form the pathway would refuse on submit
        return TemplateResponse(request, "consent/consent_form.html", {
            **context, "refusal": refused[version.kind]}, status=403)
    if version.kind == "emergency" and not is_site_investigator(request.user, site):
        # Neither the form nor the service: the page says who records an emergency inclusion; nothing is written.
        return TemplateResponse(request, "consent/consent_form.html", {
            **context, "refusal": emergency_refusal_message(site, request.user)}, status=403)
    if version.kind != "emergency" and request.method != "POST":
        # Not delegated today: the page says why rather than a form refused on submit (a consent signed on another
        # day is checked against the log on its signing date, by the service).
        refusal = permissions.delegation_refusal(request.user, site, "consent")
        if refusal is not None:
            return TemplateResponse(request, "consent/consent_form.html", {**context, "refusal": refusal},
                                    status=403)
    versions = ConsentFormVersionPage.objects.filter(pk=version.pk)
    blocks = neutral(version.consent)
    statements = [b["value"] for b in blocks if b["type"] == "consent_statement"]
    initial = {"version": version.pk, "expected_sequence": participant.consents.count(),
               "signed_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
               # an emergency attestation is the investigator's: nobody is shown the note then
               "information_token": "" if version.kind == "emergency" else _information_token(participant, version)}
    form = ConsentForm(request.POST or None, request.FILES or None, versions=versions.filter(pk=version.pk),
                       statements=statements, consent_blocks=blocks, participant_code=participant.code,
                       initial=initial, ceremony=version.ceremony_signers() if version.kind != "emergency" else (),
                       questions=version.comprehension_questions() if version.kind != "emergency" else (),
                       main_roles={"patient": ("participant",), "surrogate": ("representative",)}.get(
                           version.kind, ("participant", "representative")))
    if request.method == "POST" and form.is_valid():
        try:
            record = services.consent_record_create(
                actor=request.user, participant=participant, data=_input(form, participant),
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
            return HttpResponseRedirect(subpage_url(trial, "participant_detail", site.code.lower(), participant.code))
    information_read = form.is_bound and form.data.get("information_seconds", "") != ""
    countersign_later = any(e["role"] == "investigator" and e["later_within_hours"] for e in
                            version.ceremony_signers())
    return TemplateResponse(request, "consent/consent_form.html", {
        **context, "form": form, "signing_suspended": signing_suspended(request.user),
        "information_read": information_read, "consent_rows": form.consent_rows(version.consent),
        "ceremony_rows": form.ceremony_rows(), "question_rows": form.question_rows(),
        "can_countersign": permissions.can_countersign_consent(request.user, site),
        "countersign_later": countersign_later,
    }, status=400 if form.is_bound and form.errors else 200)


INFORMATION_SALT = "consent.information-note-shown"


def _information_token(participant, version) -> str:
    """Proof, signed by the server, that the page showing this version's information note to this participant's
    signer was sent, and when: the record keeps that time, not one the page could make up."""
    return signing.dumps({"p": participant.pk, "v": version.pk, "t": timezone.now().timestamp()},
                         salt=INFORMATION_SALT, compress=True)


def _information_shown_at(token: str, participant, version):
    try:
        value = signing.loads(token or "", salt=INFORMATION_SALT, max_age=7 * 24 * 3600)
    except signing.BadSignature:
        return None
    if not isinstance(value, dict) or value.get("p") != participant.pk or value.get("v") != version.pk:
        return None
    try:
        return datetime.fromtimestamp(float(value["t"]), tz=UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None


def _input(form: ConsentForm, participant) -> services.ConsentInput:
    data = form.cleaned_data
    others, answers = form.clean_ceremony()
    signature, source = None, ConsentRecord.SignatureSource.NONE
    if data.get("signature_scan"):
        data["signature_scan"].seek(0)
        signature = services.normalise_signature_image(data["signature_scan"].read())
        source = ConsentRecord.SignatureSource.SCAN
    elif data.get("signature_drawn"):
        signature = services.decode_drawn_signature(data["signature_drawn"])
        source = ConsentRecord.SignatureSource.DRAWN
    elif data.get("signature_typed", "").strip():
        signature = services.typed_signature_image(data["signature_typed"])
        source = ConsentRecord.SignatureSource.TYPED
    return services.ConsentInput(
        version=data["version"], signed_at=data["signed_at"], outcome=data["outcome"], answers=form.answers(),
        surrogate_relationship=data["surrogate_relationship"], independence_attested=data["independence_attested"],
        emergency_conditions_attested=data["emergency_conditions_attested"],
        no_prior_objection_attested=data["no_prior_objection_attested"],
        signer_role=data.get("signer_role") or "", patient_unable_attested=data.get("patient_unable_attested", False),
        objects_to_data_use=data.get("objects_to_data_use"), witness_name=data["witness_name"],
        signature_png=signature, signature_source=source, ticks=form.ticks(), fills=form.fills(),
        information_shown_at=_information_shown_at(data.get("information_token"), participant, data["version"]),
        information_seconds=data.get("information_seconds"), cannot_read=bool(data.get("cannot_read")),
        others=others, comprehension=answers)
