"""What the pages of a site under its trial share: the site the user may read (else a 404, never a 403), one of its
participants, the URL of a sub-page of the trial."""

from django.http import Http404

from regulatory.models import InvestigationalSite, TrialPage
from regulatory.selectors import site_for_user

from . import selectors
from .models import Participant


def site_or_404(request, trial: TrialPage, code: str) -> InvestigationalSite:
    site = site_for_user(user=request.user, trial=trial, code=code)
    if site is None:
        raise Http404
    return site


def participant_or_404(request, trial: TrialPage, code: str,
                       participant_code: str) -> tuple[InvestigationalSite, Participant]:
    site = site_or_404(request, trial, code)
    participant = selectors.participant_of_site(site=site, code=participant_code)
    if participant is None:
        raise Http404
    return site, participant


def subpage_url(trial: TrialPage, name: str, *args) -> str:
    return trial.url + trial.reverse_subpage(name, args=list(args))
