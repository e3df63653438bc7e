from django import forms
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import FileResponse, Http404
from django.template.response import TemplateResponse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cms.feedback import error_messages
from cms.throttle import count_in_window
from regulatory import permissions
from regulatory.approvals import effectiveness_blockers
from regulatory.forms import ModelMultipleChoiceField
from regulatory.models import TrialPage

from . import masters, selectors
from .models import ConsentFormVersionPage
from .pki import SigningUnavailable
from .site_pages import site_or_404


def _pdf_response(master, filename: str) -> FileResponse:
    response = FileResponse(master.file.open("rb"), content_type="application/pdf", filename=filename)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["X-Content-SHA256"] = master.sha256
    return response


@login_required
def current_forms(request, trial_slug: str, code: str):
    """The site's effective consent forms, one per kind and language, each with its Print button.

    At /<trial>/sites/<code>/consent-forms/ like the trial's other sub-pages, but routed by Django rather than
    through the trial's Wagtail page: the page site staff open most skips Wagtail's site, route and
    view-restriction lookups (bench/RESULTS.md (c)). The site is looked up in one query among the sites the user
    reads, in a live trial (reading a site implies reading its trial, as the `before_serve_page` hook requires of
    every trial page); trial pages carry no Wagtail view restrictions (privacy is the permission module's)."""
    site = (permissions.sites_accessible(request.user).select_related("trial")
            .filter(trial__slug=trial_slug, trial__live=True, code=code.upper()).first())
    if site is None:
        raise Http404
    trial = site.trial
    periods = selectors.current_forms(site=site, listing=True)
    references = selectors.approval_references([p.version for p in periods])
    # The trial's URL is the start of this one (no Wagtail site lookup); its sub-routes by string.
    trial_url = request.path[:request.path.index("/sites/") + 1]
    code = site.code.lower()
    return TemplateResponse(request, "consent/current_forms.html", {
        "page": trial, "trial": trial, "site": site, "trial_url": trial_url,
        "site_url": trial_url + trial.reverse_subpage("site_detail", args=(code,)),
        "bulk_url": trial_url + trial.reverse_subpage("print_bulk", args=(code,)),
        "rows": [(p, references[p.version_id],
                  trial_url + trial.reverse_subpage("print_current", args=(code, p.version_id))) for p in periods],
        "trial_wide": permissions.can_read_trial_wide(request.user, trial),
    })


def print_current(request, *, trial: TrialPage, code: str, version_id: int):
    """A form as printed at a site: only its effective version, through every URL (else 404)."""
    site = site_or_404(request, trial, code)
    # Chosen among the site's current forms, never looked up by the URL's id (SQLite overflows past 64 bits).
    version = next((p.version for p in selectors.current_forms(site=site) if p.version_id == version_id), None)
    if version is None:
        raise Http404
    return _signed(request, versions=[version], site=site, trial=trial,
                   filename=f"{trial.nct_number}-{site.code}-{version.kind}-{version.language}-v{version.version_number}.pdf")


def print_bulk(request, *, trial: TrialPage, code: str):
    site = site_or_404(request, trial, code)
    versions = [period.version for period in selectors.current_forms(site=site)]
    if not versions:
        raise Http404
    return _signed(request, versions=versions, site=site, trial=trial,
                   filename=f"{trial.nct_number}-{site.code}-formulaires-en-vigueur.pdf")


def version_pdf(request, *, version: ConsentFormVersionPage):
    """Any version, for trial-wide readers (sponsor, QA, inspectors): marked unless effective somewhere."""
    trial = version.trial
    if not permissions.can_read_trial_wide(request.user, trial):
        raise Http404
    filename = f"{trial.nct_number}-{version.kind}-{version.language}-v{version.version_number}.pdf"
    if selectors.status(version) in ("draft", "submitted", "withdrawn"):
        pdf = masters.render([version], site=None, trial=trial)  # never a signed master: not approved text
        response = FileResponse(iter([pdf]), content_type="application/pdf", filename=filename)
        response["Content-Disposition"] = f'inline; filename="{filename}"'
        return response
    return _signed(request, versions=[version], site=None, trial=trial, filename=filename)


def _signed(request, *, versions, site, trial, filename):
    try:
        master = masters.signed_master(versions=versions, site=site, trial=trial, actor=request.user)
    except SigningUnavailable as error:
        return TemplateResponse(request, "consent/signing_unavailable.html", {"error": error}, status=503)
    return _pdf_response(master, filename)


MAX_VERIFY_BYTES = 20 * 1024 * 1024


def _verification_allowed(user) -> bool:
    """One more verification for this user within `VERIFY_THROTTLE` (a fixed window counted in Django's cache:
    verifying stores nothing, so no row counts it). With the default local-memory cache each server process
    counts on its own; a shared cache (`CACHES`: Redis, the database) counts across processes."""
    from django.conf import settings

    limits = settings.VERIFY_THROTTLE
    count = count_in_window(f"verify:{user.pk}", window_seconds=limits["WINDOW_SECONDS"])
    return count <= limits["MAX_PER_USER"]


@login_required
def verify(request):
    """Upload a PDF: is it intact, who signed it and when, and which stored document is it (or was it)?

    Bounded: 20 MB at most, an answer in time whatever the file (`verification.verify_pdf_in_time`), and a few
    verifications per user in a window (429 beyond, the file unread). Stores nothing."""
    from django.conf import settings

    context, status = {}, 200
    if request.method == "POST":
        upload = request.FILES.get("pdf")
        if upload is None:
            context["error"], status = _("Choose a PDF file."), 400
        elif upload.size > MAX_VERIFY_BYTES:
            context["error"], status = _("This file is too large (20 MB at most)."), 400
        elif not _verification_allowed(request.user):
            context["error"] = _("You have verified %(count)s files in the last few minutes, the most allowed: "
                                 "try again in a few minutes.") % {"count": settings.VERIFY_THROTTLE["MAX_PER_USER"]}
            status = 429
        else:
            context["recognition"] = selectors.recognise_pdf(upload.read())
            context["filename"] = upload.name
    response = TemplateResponse(request, "consent/verify.html", context, status=status)
    if status == 429:
        response["Retry-After"] = str(settings.VERIFY_THROTTLE["WINDOW_SECONDS"])
    return response


class MakeEffectiveForm(forms.Form):
    sites = ModelMultipleChoiceField(queryset=None, label=_("Sites"), widget=forms.CheckboxSelectMultiple)
    effective_from = forms.DateTimeField(
        label=_("Effective from"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M"],
        help_text=_("Local time (Europe/Paris). The version it replaces at each site stops at that same instant."))

    change_kind = forms.ChoiceField(
        label=_("The change from the version it replaces"), widget=forms.RadioSelect,
        choices=[("substantive", _("Substantive: the participants consent again (a re-consent task each)")),
                 ("inform", _("Not substantive: the participants are informed, no new signature (an \"inform\" "
                              "task each, closed with a note)"))])

    def __init__(self, *args, sites, judged: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sites"].queryset = sites
        if judged:  # judged once, for every site
            del self.fields["change_kind"]


def make_effective(request, *, version: ConsentFormVersionPage):
    """The sponsor makes an approved version the one in force at chosen sites from a date (all or none)."""
    from django.contrib import messages
    from django.core.exceptions import PermissionDenied, ValidationError
    from django.http import HttpResponseRedirect
    from django.utils import timezone

    from . import services

    trial = version.trial
    if not permissions.can_manage_trial(request.user, trial):
        raise Http404
    scope = version.sites.all() if version.is_site_specific else permissions.sites_managed(request.user)
    form = MakeEffectiveForm(request.POST or None, sites=scope.filter(trial=trial).order_by("code"),
                             judged=bool(version.change_kind),
                             initial={"effective_from": timezone.localtime().strftime("%Y-%m-%dT%H:%M")})
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                services.form_make_effective(actor=request.user, version=version, sites=form.cleaned_data["sites"],
                                             effective_from=form.cleaned_data["effective_from"],
                                             change_kind=form.cleaned_data.get("change_kind", ""))
        except ValidationError as error:
            form.add_error(None, error)
        except PermissionDenied:
            raise Http404 from None
        else:
            starts, sites = form.cleaned_data["effective_from"], ", ".join(s.code for s in form.cleaned_data["sites"])
            if starts > timezone.now():
                messages.success(request, _("%(version)s will be in force at %(sites)s from %(date)s.") % {
                    "version": version, "sites": sites,
                    "date": date_format(timezone.localtime(starts), "DATETIME_FORMAT")})
            else:
                messages.success(request, _("%(version)s is in force at %(sites)s.") % {
                    "version": version, "sites": sites})
            return HttpResponseRedirect(version.url)
    return TemplateResponse(request, "consent/make_effective.html", {
        "page": version, "trial": trial, "version": version, "form": form,
        "blockers": effectiveness_blockers(version)})


@require_POST
def withdraw_version(request, *, version: ConsentFormVersionPage):
    from django.contrib import messages
    from django.core.exceptions import PermissionDenied, ValidationError
    from django.http import HttpResponseRedirect

    from . import services

    try:
        services.form_withdraw(actor=request.user, version=version, reason=request.POST.get("reason", "")[:2000])
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as error:
        error_messages(request, error)
    else:
        messages.success(request, _("%(version)s is withdrawn.") % {"version": version})
    return HttpResponseRedirect(version.url)
