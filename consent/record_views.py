"""Site-staff views of participants and their events (withdrawal, death, screening closed, countersignature, inform
tasks), the consent PDFs, the site's tasks and form acknowledgements, and the verification short link. The consent form
itself is in `tablet_views`."""


from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cms.feedback import error_messages
from regulatory import permissions
from regulatory.models import TrialPage

from . import dashboard, selectors, services
from .forms import CountersignForm, DeathForm, InformForm, ScreeningCloseForm, WithdrawalForm
from .models import ConsentRecord, ConsentTask, FormEffectivity, Participant
from .pki import SigningUnavailable
from .remote_views import participant_context
from .services.records import is_site_investigator
from .site_pages import participant_or_404, site_or_404, subpage_url

PARTICIPANTS_PER_PAGE = 50


def participants(request, *, trial: TrialPage, code: str):
    site = site_or_404(request, trial, code)
    can_record = permissions.can_register_participant(request.user, site)
    if request.method == "POST":
        if not permissions.is_site_staff(request.user, site):
            raise Http404
        if not can_record:  # on the staff, not delegated: the page says why, nothing is written
            messages.error(request, permissions.delegation_refusal(request.user, site, "register"))
            return HttpResponseRedirect(subpage_url(trial, "participants", site.code.lower()))
        if request.POST.get("confirm") != "yes":  # first the question, then the registration
            return TemplateResponse(request, "consent/participant_confirm.html", {
                "page": trial, "trial": trial, "site": site, "next_code": selectors.next_participant_code(site=site)})
        try:
            participant = services.participant_create(actor=request.user, site=site)
        except ValidationError as error:
            error_messages(request, error)
        else:
            messages.success(request, _("Participant %(code)s registered.") % {"code": participant.code})
            return HttpResponseRedirect(subpage_url(trial, "participant_detail", site.code.lower(), participant.code))
    now = timezone.now()
    state = request.GET.get("state", "")
    state = state if state in dashboard.STATES else ""
    listed = dashboard.rows(site=site, state=state, at=now)
    export_format = request.GET.get("format", "")
    if export_format in ("csv", "xlsx"):
        name = f"{trial.nct_number}-{site.code}-participants{'-' + state if state else ''}"
        if export_format == "csv":
            return HttpResponse(dashboard.as_csv(listed), content_type="text/csv; charset=utf-8", headers={
                "Content-Disposition": f'attachment; filename="{name}.csv"'})
        return HttpResponse(dashboard.as_xlsx(listed, title=site.code), headers={
            "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    totals = dashboard.counts(site=site, at=now)
    return TemplateResponse(request, "consent/participants.html", {
        "page": trial, "trial": trial, "site": site, "can_record": can_record,
        "register_refusal": (permissions.delegation_refusal(request.user, site, "register")
                             if permissions.is_site_staff(request.user, site) and not can_record else ""),
        # One page at a time: a site may register thousands (bench/tmf_scale.py measured 3 s at 10^4 unpaginated).
        "participants": Paginator(listed, PARTICIPANTS_PER_PAGE).get_page(request.GET.get("page")),
        "tasks": selectors.open_tasks(site=site), "now": now,
        "totals": totals, "bars": dashboard.chart(totals), "chart_height": dashboard.chart_height(), "state": state,
        "state_label": dashboard.STATES.get(state, ""),
    })


def _closed_reason(reason: str) -> str:
    """Why a task was closed, in the reader's language: the pathway stores these few as fixed codes."""
    return {"continuation consent": _("continuation consent"),
            "continuation consent by the representative": _("continuation consent by the representative"),
            "patient's own continuation consent": _("the patient's own continuation consent"),
            "re-consent": _("re-consent"), "participant informed": _("participant informed"),
            "version withdrawn": _("version withdrawn")}.get(reason, reason)


def participant_detail(request, *, trial, code, participant_code):
    site, participant = participant_or_404(request, trial, code, participant_code)
    user = request.user
    can_record = permissions.is_site_staff(user, site) and participant.is_active
    # What the delegation log gives the user today (the service checks again on the signing date).
    consent_refusal = permissions.delegation_refusal(user, site, "consent") if can_record else None
    choices = selectors.consent_choices(participant=participant) if can_record else []
    if consent_refusal:
        choices = [v for v in choices if v.kind == "emergency"]
    # Only what the pathway allows now is offered; the rest is named with the reason (the check made at signing).
    refused = services.kinds_not_offered(participant=participant, kinds=[v.kind for v in choices])
    not_offered = [(v, refused[v.kind]) for v in choices if v.kind in refused]
    choices = [v for v in choices if v.kind not in refused]
    # An emergency inclusion is the investigator's attestation: not offered to a coordinator, who is told who may.
    emergency_for_investigator = (any(v.kind == "emergency" for v in choices)
                                  and not is_site_investigator(request.user, site))
    if emergency_for_investigator:
        choices = [v for v in choices if v.kind != "emergency"]
    tasks = list(participant.tasks.select_related("target_version", "closed_by").order_by("-created_at"))
    for task in tasks:
        task.closed_label = _closed_reason(task.closed_reason)
    withdrawals = list(participant.withdrawals.select_related("recorded_by").order_by("at", "pk"))
    withdrawal_form = WithdrawalForm(left=services.withdrawal_scopes_left(participant, withdrawals))
    can_withdraw = (permissions.can_record_withdrawal(user, site) and bool(withdrawal_form.fields["scope"].choices)
                    and (participant.is_active or (participant.status == Participant.Status.WITHDRAWN
                                                   and participant.included_at is not None)))
    return TemplateResponse(request, "consent/participant.html", {
        "page": trial, "trial": trial, "site": site, "participant": participant, "can_record": can_record,
        "records": participant.consents.select_related("version", "obtained_by", "archival").order_by("sequence"),
        "tasks": tasks, "choices": choices,
        "emergency_for_investigator": emergency_for_investigator and participant.status == "screening",
        "death_form": DeathForm(), "now": timezone.now(),
        "not_offered": not_offered, "screening_form": ScreeningCloseForm(), "consent_refusal": consent_refusal,
        "can_record_death": can_record and permissions.can_record_death(user, site),
        "can_close_screening": can_record and permissions.can_register_participant(user, site),
        "withdrawal_form": withdrawal_form, "withdrawals": withdrawals, "can_withdraw": can_withdraw,
        "inform_form": InformForm(), "can_inform": permissions.can_record_consent(request.user, site),
        "pending": participant.consents.filter(outcome=ConsentRecord.Outcome.PENDING).order_by("sequence"),
        "can_countersign": permissions.can_countersign_consent(request.user, site),
        "countersign_form": CountersignForm(),
        **participant_context(request, site=site, participant=participant),
    })


def _participant_event(request, *, trial, code, participant_code, form_class, missing: str, act, done: str):
    """A withdrawal or a death, posted from the participant's page: the service decides, the page says."""
    site, participant = participant_or_404(request, trial, code, participant_code)
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, missing)
    else:
        try:
            act(participant, form.cleaned_data)
        except PermissionDenied:
            raise Http404 from None
        except ValidationError as error:
            error_messages(request, error)
        else:
            messages.success(request, done % {"code": participant.code})
    return HttpResponseRedirect(subpage_url(trial, "participant_detail", site.code.lower(), participant.code))


@require_POST
def withdraw(request, *, trial, code, participant_code):
    return _participant_event(
        request, trial=trial, code=code, participant_code=participant_code, form_class=WithdrawalForm,
        missing=_("Choose what the participant withdraws from (and check the date)."),
        done=_("The withdrawal of %(code)s is recorded."),
        act=lambda participant, data: services.participant_withdraw(
            actor=request.user, participant=participant, scope=data["scope"], reason=data["reason"],
            at=data.get("withdrawn_at")))


@require_POST
def inform_task_close(request, *, trial, code, participant_code, task_id: int):
    """The participant was told of a non-substantive change: the "inform" task is closed with a note."""
    site, participant = participant_or_404(request, trial, code, participant_code)
    task = get_object_or_404(ConsentTask, pk=task_id, participant=participant)
    return _participant_event(
        request, trial=trial, code=code, participant_code=participant_code, form_class=InformForm,
        missing=_("Say how the participant was informed (and check the date)."),
        done=_("%(code)s is recorded as informed of the new version."),
        act=lambda participant, data: services.task_inform_close(
            actor=request.user, task=task, note=data["note"], at=data.get("informed_at")))


@require_POST
def close_screening(request, *, trial, code, participant_code):
    return _participant_event(
        request, trial=trial, code=code, participant_code=participant_code, form_class=ScreeningCloseForm,
        missing=_("Choose registered in error or screen failure, and give the reason."),
        done=_("%(code)s is marked as such; the code will not be given again."),
        act=lambda participant, data: services.participant_close_screening(
            actor=request.user, participant=participant, status=data["status"], reason=data["reason"]))


@require_POST
def record_death(request, *, trial, code, participant_code):
    return _participant_event(
        request, trial=trial, code=code, participant_code=participant_code, form_class=DeathForm,
        missing=_("Give the date and time of death."), done=_("The death of %(code)s is recorded."),
        act=lambda participant, data: services.participant_record_death(
            actor=request.user, participant=participant, died_at=data["died_at"]))


@require_POST
def countersign(request, *, trial, code, participant_code, sequence):
    """The investigator countersigns a consent given earlier (or declines to): a new signed revision of its PDF."""
    site, participant = participant_or_404(request, trial, code, participant_code)
    if not permissions.can_record_consent(request.user, site):
        raise Http404
    record = get_object_or_404(ConsentRecord, participant=participant, sequence=sequence)
    form = CountersignForm(request.POST)
    decline = request.POST.get("decision") == "decline"
    if not form.is_valid():
        messages.error(request, _("Type your user name and your password to sign. Nothing was recorded."))
    else:
        try:
            services.consent_countersign(actor=request.user, record=record, username=form.cleaned_data["username"],
                                         password=form.cleaned_data["password"], decline=decline,
                                         reason=form.cleaned_data["reason"])
        except PermissionDenied:
            raise Http404 from None
        except ValidationError as error:
            error_messages(request, error)
        except SigningUnavailable as error:
            messages.error(request, _("The consent could not be signed, so nothing was recorded: %(error)s")
                           % {"error": error})
        else:
            messages.success(request, _("Countersignature declined: consent #%(sequence)s is not a consent.")
                             % {"sequence": sequence} if decline else
                             _("Consent #%(sequence)s countersigned: the PDF is signed again (a new revision).")
                             % {"sequence": sequence})
    return HttpResponseRedirect(subpage_url(trial, "participant_detail", site.code.lower(), participant.code))


def consent_pdf(request, *, trial, code, participant_code, sequence):
    site, participant = participant_or_404(request, trial, code, participant_code)
    record = get_object_or_404(ConsentRecord, participant=participant, sequence=sequence)
    filename = f"{participant.code}-consentement-{record.sequence}.pdf"
    response = FileResponse(record.pdf.open("rb"), content_type="application/pdf", as_attachment=True,
                            filename=filename)
    response["X-Content-SHA256"] = record.pdf_sha256
    return response


def tasks(request, *, trial, code):
    site = site_or_404(request, trial, code)
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
        "pdf_url": subpage_url(trial, "consent_pdf", record.participant.site.code.lower(), record.participant.code,
                        record.sequence)})


@require_POST
def acknowledge_form(request, *, trial, code, period_id: int):
    """The site's staff acknowledge a consent-form version in force at their site."""
    site = site_or_404(request, trial, code)
    period = get_object_or_404(FormEffectivity, pk=period_id, site=site)
    try:
        services.form_acknowledgement_create(actor=request.user, period=period)
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as error:
        error_messages(request, error)
    else:
        messages.success(request, _("Acknowledged: %(version)s.") % {"version": period.version})
    return HttpResponseRedirect(subpage_url(trial, "site_detail", site.code.lower()))


@require_POST
def remind_form(request, *, trial, period_id: int):
    """The sponsor reminds a site that has not acknowledged a consent-form version in force there."""
    period = get_object_or_404(FormEffectivity.objects.select_related("site"), pk=period_id, site__trial=trial)
    if not permissions.can_manage_site(request.user, period.site):
        raise Http404
    try:
        notice = services.form_reminder_send(actor=request.user, period=period)
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as error:
        error_messages(request, error)
    except OSError:
        messages.error(request, _("The e-mail could not be sent; nothing was recorded. Try again later."))
    else:
        messages.success(request, _("Reminder sent to %(count)s person(s) at %(site)s.")
                         % {"count": len(notice.recipients), "site": period.site.code})
    return HttpResponseRedirect(subpage_url(trial, "acknowledgement_matrix"))
