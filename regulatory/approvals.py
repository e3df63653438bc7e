"""When may a version take effect? One rule for every versioned document: protocol versions and consent-form
versions alike. A version offers `live`, `requires_favourable_opinion` and `non_substantial_justification`."""

from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from .models import CorrespondenceItemPage
from .models.correspondence import ItemType


def opinions(version, item_type: str = ItemType.FAVOURABLE_OPINION) -> QuerySet[CorrespondenceItemPage]:
    """Published letters of that type (by default favourable opinions) that name this version."""
    return (CorrespondenceItemPage.objects.live().filter(item_type=item_type, links__page_id=version.pk)
            .distinct().order_by("date"))


def opinions_of(version_ids, item_type: str = ItemType.FAVOURABLE_OPINION) -> QuerySet[CorrespondenceItemPage]:
    """`opinions` of several versions in one query, each letter annotated with `linked_version_id` (a letter
    naming two of the versions comes twice), ordered by date."""
    return (CorrespondenceItemPage.objects.live().filter(item_type=item_type, links__page_id__in=list(version_ids))
            .annotate(linked_version_id=F("links__page_id")).order_by("date", "pk"))


def effectiveness_blockers(version, *, justification: str = "") -> list[str]:
    """Why this version cannot take effect yet (empty when it can)."""
    blockers = []
    if not version.live:
        blockers.append(_("It has not been approved by the sponsor's review (it is not published)."))
    if version.requires_favourable_opinion:
        if not opinions(version).exists():
            blockers.append(_("A substantial modification needs a favourable opinion linked to it."))
        elif opinions(version, ItemType.UNFAVOURABLE_OPINION).filter(
                date__gt=opinions(version).last().date).exists():
            blockers.append(_("Its latest opinion is unfavourable."))
    elif not (justification or version.non_substantial_justification).strip():
        blockers.append(_("A non-substantial amendment needs a recorded justification to take effect."))
    return blockers


def earliest_effective_date(version):
    """A version cannot take effect before the favourable opinion that allows it."""
    if version.requires_favourable_opinion:
        first = opinions(version).first()
        return first.date if first else None
    return version.version_date


def start_refusal(version, effective_from) -> str | None:
    """Why the version cannot take effect from `effective_from` (a day, in the site's time zone, before its
    `earliest_effective_date`), or None when it can."""
    earliest = earliest_effective_date(version)
    if earliest and timezone.localtime(effective_from).date() < earliest:
        return _("It cannot take effect before %(date)s, the date of the opinion that allows it.") % {
            "date": date_format(earliest)}
    return None
