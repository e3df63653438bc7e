from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from cms.feedback import error_messages

from . import audit, permissions, selectors, services
from .forms import ActivationForm, LoginForm
from .models import SiteActivation, TrialPage


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    redirect_authenticated_user = True


class PasswordChangeView(auth_views.PasswordChangeView):
    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form):
        response = super().form_valid(form)
        audit.record(actor=self.request.user, action="auth.password_changed", obj=self.request.user,
                     object_repr=self.request.user.get_username())
        messages.success(self.request, _("Your password has been changed."))
        return response


def _site_url(trial: TrialPage, site) -> str:
    return trial.url + trial.reverse_subpage("site_detail", args=[site.code.lower()])


def site_detail(request, *, trial: TrialPage, code: str):
    """A site's page, reached under its trial's URL. Another site's page is a 404, never a 403."""
    site = selectors.site_for_user(user=request.user, trial=trial, code=code)
    if site is None:
        raise Http404
    can_manage = permissions.can_manage_site(request.user, site)
    return TemplateResponse(request, "regulatory/site_detail.html", {
        "page": trial,
        "trial": trial,
        "site": site,
        "team": selectors.site_team(site=site),
        "can_manage": can_manage,
        "can_acknowledge": permissions.can_acknowledge(request.user, site),
        "can_read_isf": permissions.can_read_isf(request.user, site),
        "edit_url": reverse("investigational_sites:edit", args=[site.pk]) if can_manage else "",
        "current_version": selectors.effective_version(site=site),
        "activations": selectors.acknowledgements_of_site(site=site),
        "now": timezone.now(),
        "sections": [(template, entries(request, site)) for template, entries in SITE_SECTIONS],
    })


# Sections other apps add, from their AppConfig.ready(), to a site's page (consent: the consent-form versions in
# force there, to acknowledge) and to the acknowledgement matrix (consent: versions × sites): (template, function
# of the request and the site, or the trial, giving the template's `section`).
SITE_SECTIONS: list = []
MATRIX_SECTIONS: list = []


@require_POST
def acknowledge(request, *, trial: TrialPage, code: str, activation_id: int):
    site = selectors.site_for_user(user=request.user, trial=trial, code=code)
    if site is None:
        raise Http404
    activation = get_object_or_404(SiteActivation, pk=activation_id, site=site)
    try:
        services.acknowledgement_create(actor=request.user, activation=activation)
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as error:
        error_messages(request, error)
    else:
        messages.success(request, _("Acknowledged: %(version)s.") % {"version": activation.version})
    return HttpResponseRedirect(_site_url(trial, site))


def _trial_wide(request, trial: TrialPage) -> None:
    if not permissions.can_read_trial_wide(request.user, trial):
        raise Http404


def dashboard(request, *, trial: TrialPage):
    """The sponsor's dashboard: submissions in progress, approvals awaiting effect, acknowledgements."""
    _trial_wide(request, trial)
    board = selectors.sponsor_dashboard(trial=trial, user=request.user)
    return TemplateResponse(request, "regulatory/dashboard.html", {
        "page": trial, "trial": trial, "board": board, "chart": _bar_geometry(board.chart),
        "chart_height": 36 * len(board.chart) + 8,
        "can_manage": permissions.can_manage_trial(request.user, trial),
    })


def _bar_geometry(bars, *, left: int = 250, width: int = 380) -> list[dict]:
    """Stacked horizontal bars (acknowledged, pending, not effective) as SVG coordinates."""
    widest = max((b.acknowledged + b.pending + b.not_effective for b in bars), default=1) or 1
    unit = width / widest
    rows = []
    for index, bar in enumerate(bars):
        x, segments = left, []
        for css, count in (("ack", bar.acknowledged), ("pending", bar.pending), ("not-effective", bar.not_effective)):
            # Formatted here: the template would localise decimals ("12,5"), which SVG does not read.
            segments.append({"css": css, "x": f"{x:.1f}", "width": f"{count * unit:.1f}", "count": count})
            x += count * unit
        rows.append({"label": bar.label, "y": index * 36, "segments": segments})
    return rows


def acknowledgement_matrix(request, *, trial: TrialPage):
    _trial_wide(request, trial)
    sites, rows = selectors.acknowledgement_matrix(trial=trial, user=request.user)
    return TemplateResponse(request, "regulatory/acknowledgement_matrix.html", {
        "page": trial, "trial": trial, "sites": sites, "rows": rows, "now": timezone.now(),
        "sections": [(template, entries(request, trial)) for template, entries in MATRIX_SECTIONS],
        "can_manage": permissions.can_manage_trial(request.user, trial),
    })


@require_POST
def remind(request, *, trial: TrialPage, activation_id: int):
    activation = get_object_or_404(SiteActivation, pk=activation_id, site__trial=trial)
    if not permissions.can_manage_site(request.user, activation.site):
        raise Http404
    try:
        notice = services.reminder_send(actor=request.user, activation=activation)
    except ValidationError as error:
        error_messages(request, error)
    except OSError:
        messages.error(request, _("The e-mail could not be sent; nothing was recorded. Try again later."))
    else:
        messages.success(request, _("Reminder sent to %(count)s person(s) at %(site)s.")
                         % {"count": len(notice.recipients), "site": activation.site.code})
    return HttpResponseRedirect(trial.url + trial.reverse_subpage("acknowledgement_matrix"))


def activation_new(request, *, trial: TrialPage):
    """Make an approved version effective at chosen sites from a date; all sites or none."""
    if not permissions.can_manage_trial(request.user, trial):
        raise Http404
    form = ActivationForm(request.POST or None, trial=trial, user=request.user,
                          initial={"effective_from": timezone.localtime().strftime("%Y-%m-%dT%H:%M")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                for site in data["sites"]:
                    services.activation_create(actor=request.user, version=data["version"], site=site,
                                               effective_from=data["effective_from"],
                                               justification=data["justification"])
        except ValidationError as error:
            form.add_error(None, error)
        except PermissionDenied:
            raise Http404 from None
        else:
            messages.success(request, _("%(version)s is effective at %(sites)s.") % {
                "version": data["version"], "sites": ", ".join(s.code for s in data["sites"])})
            return HttpResponseRedirect(trial.url + trial.reverse_subpage("acknowledgement_matrix"))
    return TemplateResponse(request, "regulatory/activation_form.html", {"page": trial, "trial": trial, "form": form})
