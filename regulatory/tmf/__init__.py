"""The Trial Master File: filed by the registry of sources (`filing`, `sources`), by hand (`uploads`) or imported
(`exchange`), searched (`search`), checked (`qc`, `completeness`, `milestones`), opened to inspectors (`inspection`).

Here: reads of the TMF Reference Model taxonomy (which migration 0005 loads from `regulatory/tmf_data/`), and the
trial whose TMF a user reads. Who reads which documents and who files is decided by `regulatory.permissions`."""

from regulatory import permissions
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

    from regulatory.models import TrialPage

    trial = TrialPage.objects.filter(nct_number__iexact=nct).first()
    if trial is None or not permissions.can_read_trial_wide(user, trial):
        raise Http404
    return trial
