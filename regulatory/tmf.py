"""Reads of the TMF Reference Model taxonomy, which migration 0005 loads from `tmf_data/`."""

from regulatory.models import TmfArtifact


class UnknownTmfArtifactError(LookupError):
    """The number names no artifact of the TMF Reference Model v3.3.1."""


def artifact(number: str) -> TmfArtifact:
    """The artifact a document is filed to, by its Reference Model number ("02.01.02" is the Protocol).

    Raises `UnknownTmfArtifactError` rather than `DoesNotExist`, so a mistyped number in filing code fails with
    a message that says what was looked up, and is never mistaken for a missing document.
    """
    try:
        return TmfArtifact.objects.select_related("section__zone").get(number=number)
    except TmfArtifact.DoesNotExist:
        raise UnknownTmfArtifactError(
            f"{number!r} is not an artifact number of the TMF Reference Model v3.3.1 (expected like '02.01.02')"
        ) from None


def readable_trial(user, nct: str):
    """The trial whose TMF the user may read (sponsor, QA, an inspector in an open window, administrators), or 404.

    Site staff never read the sponsor's TMF; an inspector outside their window sees nothing.
    """
    from django.http import Http404

    from regulatory import permissions
    from regulatory.models import TrialPage

    trial = TrialPage.objects.filter(nct_number__iexact=nct).first()
    if trial is None or not permissions.can_read_trial_wide(user, trial):
        raise Http404
    return trial


def documents_visible(user, trial):
    """The trial's TMF documents the user may read: trial- and country-level ones, and site-level ones of the
    sites the user may read (an inspector's window may cover only some sites).

    A reader of every site of the trial (sponsor, QA, administrator, an inspector whose window names no site)
    gets the trial's documents with no site condition at all: the condition would hold for every row, but
    PostgreSQL would still evaluate it row by row and could no longer count or list from the indexes alone
    (bench/RESULTS.md (b)). Every writer files a site-level document under a site of its own trial
    (`tmf_filing.file_upload`, `filing.refile`, `exchange.import_package`).
    """
    from django.db.models import Q

    from regulatory import permissions
    from regulatory.models import TmfDocument

    if not permissions.can_read_trial_wide(user, trial):
        return TmfDocument.objects.none()
    documents = TmfDocument.objects.filter(trial=trial).select_related("artifact__section__zone", "site")
    if reads_every_site(user, trial):
        return documents
    sites = permissions.sites_accessible(user).filter(trial=trial).values("pk")
    return documents.filter(Q(site__isnull=True) | Q(site__in=sites))


def reads_every_site(user, trial) -> bool:
    """Whether the user may read every site of the trial: no site of the trial is outside
    `permissions.sites_accessible` (one query; none for an administrator, who reads every site)."""
    from regulatory import permissions
    from regulatory.models import InvestigationalSite

    if permissions.is_administrator(user):
        return True
    if not permissions.is_authenticated(user):
        return False
    hidden = InvestigationalSite.objects.filter(trial=trial).exclude(
        pk__in=permissions.sites_accessible(user).values("pk"))
    return not hidden.exists()


def can_file(user, trial) -> bool:
    """Filing by hand and starting exports: the trial's sponsor and administrators."""
    from regulatory import permissions

    return permissions.can_manage_trial(user, trial)
