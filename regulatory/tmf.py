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
