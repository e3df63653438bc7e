"""Completeness of a trial's TMF: which artifacts are expected where, and which of them are filed.

Expected (DOMAIN.md §5, "which expected documents are missing, per site?"):
- by default, every Core artifact of the TMF Reference Model, at each level the model files it at: once at trial
  level, once for each country of the trial's sites, once at each site;
- the sponsor overrides that per artifact and level (`TmfExpectation`, set on the settings page through
  `expectations_save`); an artifact is never expected at a level the Reference Model does not file it at.

Filed: an expected artifact counts as filed at a place (the trial, a country, a site) when at least one of its
documents filed at that very place is *QC-approved* and *current or superseded*. Documents pending QC are counted
apart (`Row.pending`, `Place.pending`) and never make an artifact filed; rejected ones do not count.
Superseded documents count because they are the
TMF's record of what was in force (publishing amendment 1.1 marks protocol 1.0 superseded, yet the Protocol
artifact is still filed); withdrawn documents (their source was unpublished) and drafts do not.

Scope: the trial level and every country are shown to whoever reads the TMF (country-level documents are all
visible to them, `permissions.tmf_documents_visible`); sites only when the user may read them
(`permissions.sites_accessible`),
so an inspector whose window covers DIJ sees DIJ's figures and no other site's.

Cost: a constant number of queries whatever the number of documents (one grouped count: on PostgreSQL of the
running counts, `regulatory.tmf.tallies`, a few hundred rows at 10^6 documents; on SQLite of the documents).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from regulatory import audit, permissions
from regulatory.models import (
    InvestigationalSite,
    QcStatus,
    TmfArtifact,
    TmfDocument,
    TmfExpectation,
    TmfLevel,
    TrialPage,
)
from regulatory.tmf import tallies

LEVELS = (TmfLevel.TRIAL, TmfLevel.COUNTRY, TmfLevel.SITE)
COUNTED = (TmfDocument.Status.CURRENT, TmfDocument.Status.APPROVED, TmfDocument.Status.SUPERSEDED)
LEVEL_LABELS = {
    TmfLevel.TRIAL: pgettext_lazy("tmf completeness", "Trial"),
    TmfLevel.COUNTRY: pgettext_lazy("tmf completeness", "Country"),
    TmfLevel.SITE: pgettext_lazy("tmf completeness", "Site"),
}


def allowed_levels(artifact: TmfArtifact) -> list[str]:
    """The levels the Reference Model files this artifact at."""
    flags = {TmfLevel.TRIAL: artifact.trial_level, TmfLevel.COUNTRY: artifact.country_level,
             TmfLevel.SITE: artifact.site_level}
    return [level for level in LEVELS if flags[level]]


def default_expected(artifact: TmfArtifact, level: str) -> bool:
    return artifact.is_core and level in allowed_levels(artifact)


def overrides_of(trial: TrialPage) -> dict[tuple[int, str], bool]:
    """The sponsor's overrides: {(artifact id, level): expected}."""
    return {(artifact_id, level): expected for artifact_id, level, expected in
            TmfExpectation.objects.filter(trial=trial).values_list("artifact_id", "level", "expected")}


def is_expected(artifact: TmfArtifact, level: str, overrides: dict[tuple[int, str], bool]) -> bool:
    if level not in allowed_levels(artifact):
        return False
    return overrides.get((artifact.pk, level), artifact.is_core)


def percentage(filed: int, expected: int) -> Decimal | None:
    """Filed out of expected, in percent with one decimal (None when nothing is expected)."""
    if not expected:
        return None
    return (Decimal(100 * filed) / Decimal(expected)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Row:
    """One artifact at one place: expected there or not, and how many counted documents are filed there."""

    artifact: TmfArtifact
    expected: bool
    documents: int
    pending: int = 0

    @property
    def filed(self) -> bool:
        return self.documents > 0


@dataclass
class Place:
    """The trial level, one country or one site, with its figures."""

    level: str
    label: str
    country: str = ""
    site: InvestigationalSite | None = None
    rows: list[Row] = field(default_factory=list)

    @property
    def expected(self) -> int:
        return sum(1 for row in self.rows if row.expected)

    @property
    def filed(self) -> int:
        return sum(1 for row in self.rows if row.expected and row.filed)

    @property
    def percent(self) -> Decimal | None:
        return percentage(self.filed, self.expected)

    @property
    def missing(self) -> list[TmfArtifact]:
        return [row.artifact for row in self.rows if row.expected and not row.filed]

    @property
    def pending(self) -> int:
        """Documents pending QC filed here (not counted as filed)."""
        return sum(row.pending for row in self.rows)

    @property
    def level_label(self) -> str:
        return str(LEVEL_LABELS[self.level])


@dataclass
class Completeness:
    trial: TrialPage
    places: list[Place]

    @property
    def trial_place(self) -> Place:
        return self.places[0]

    @property
    def countries(self) -> list[Place]:
        return [place for place in self.places if place.level == TmfLevel.COUNTRY]

    @property
    def sites(self) -> list[Place]:
        return [place for place in self.places if place.level == TmfLevel.SITE]

    @property
    def expected(self) -> int:
        return sum(place.expected for place in self.places)

    @property
    def filed(self) -> int:
        return sum(place.filed for place in self.places)

    @property
    def percent(self) -> Decimal | None:
        return percentage(self.filed, self.expected)


def completeness(trial: TrialPage, user) -> Completeness:
    """The expected artifacts of the trial, per place the user may see, against what is filed there.

    Places: the trial, each country of the trial's sites (sorted), each site the user may read (by code). Rows of
    a place: every expected artifact, and any other artifact with documents filed there (expected = False).
    """
    artifacts = list(TmfArtifact.objects.select_related("section__zone").order_by("number"))
    overrides = overrides_of(trial)
    all_sites = list(InvestigationalSite.objects.filter(trial=trial).order_by("code"))
    readable = set(permissions.sites_accessible(user).filter(trial=trial).values_list("pk", flat=True))
    counts: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    pending: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    documents = tallies.document_counts(user, trial, ("artifact_id", "level", "country", "site_id", "qc_status"),
                                        status__in=COUNTED, qc_status__in=(QcStatus.APPROVED, QcStatus.PENDING))
    for artifact_id, level, country, site_id, qc_status, n in documents:
        key = (level, "" if level == TmfLevel.TRIAL else str(site_id) if level == TmfLevel.SITE else country)
        found = counts if qc_status == QcStatus.APPROVED else pending
        found[key][artifact_id] = found[key].get(artifact_id, 0) + n

    places = [Place(level=TmfLevel.TRIAL, label=trial.nct_number)]
    places += [Place(level=TmfLevel.COUNTRY, label=country, country=country)
               for country in sorted({site.country for site in all_sites})]
    places += [Place(level=TmfLevel.SITE, label=site.code, country=site.country, site=site)
               for site in all_sites if site.pk in readable]
    expected_at = {level: {artifact.pk for artifact in artifacts if is_expected(artifact, level, overrides)}
                   for level in LEVELS}
    for place in places:
        key = place.site.pk if place.site else place.country
        filed_here = counts.get((place.level, str(key)), {})
        pending_here = pending.get((place.level, str(key)), {})
        place.rows = [Row(artifact=artifact, expected=artifact.pk in expected_at[place.level],
                          documents=filed_here.get(artifact.pk, 0), pending=pending_here.get(artifact.pk, 0))
                      for artifact in artifacts
                      if artifact.pk in expected_at[place.level] or artifact.pk in filed_here
                      or artifact.pk in pending_here]
    return Completeness(trial=trial, places=places)


# --- The sponsor's settings -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Setting:
    """One artifact on the settings page: the levels the model allows and, for each, expected now or not."""

    artifact: TmfArtifact
    levels: dict[str, bool | None]  # level → expected now; None where the Reference Model does not allow it
    defaults: dict[str, bool]

    @property
    def cells(self) -> list[tuple[str, str, bool | None]]:
        """(level, its label, expected now or None) in trial, country, site order."""
        return [(level, LEVEL_LABELS[level], state) for level, state in self.levels.items()]

    @property
    def overridden(self) -> bool:
        return any(state is not None and state != self.defaults[level] for level, state in self.levels.items())


def settings_of(trial: TrialPage, *, ticked: set[tuple[str, str]] | None = None) -> list[Setting]:
    """Every artifact with its current expectation per allowed level (or `ticked`, a form's re-display)."""
    overrides = overrides_of(trial)

    def state(artifact, level):
        if level not in allowed_levels(artifact):
            return None
        if ticked is not None:
            return (artifact.number, level) in ticked
        return is_expected(artifact, level, overrides)

    return [Setting(artifact=artifact, levels={level: state(artifact, level) for level in LEVELS},
                    defaults={level: default_expected(artifact, level) for level in allowed_levels(artifact)})
            for artifact in TmfArtifact.objects.select_related("section__zone").order_by("number")]


def parse_ticked(values: list[str]) -> set[tuple[str, str]]:
    """Checkbox values `<artifact number>:<level>` → {(number, level)}; ValidationError on an unknown artifact or
    a level the Reference Model does not file that artifact at."""
    artifacts = {a.number: a for a in TmfArtifact.objects.only("number", "trial_level", "country_level",
                                                                 "site_level")}
    ticked, errors = set(), []
    for value in values:
        number, _sep, level = str(value).partition(":")
        artifact = artifacts.get(number)
        if artifact is None:
            errors.append(_("Unknown TMF artifact: %(value)s.") % {"value": value})
        elif level not in LEVELS:
            errors.append(_("Unknown level for %(number)s: %(level)s.") % {"number": number, "level": level})
        elif level not in allowed_levels(artifact):
            errors.append(_("The TMF Reference Model does not file %(number)s at this level: %(level)s.")
                          % {"number": number, "level": LEVEL_LABELS[level]})
        else:
            ticked.add((number, level))
    if errors:
        raise ValidationError(errors)
    return ticked


@transaction.atomic
def expectations_save(*, actor, trial: TrialPage, ticked: set[tuple[str, str]]) -> dict[str, list[bool]]:
    """Make exactly the `ticked` (artifact number, level) pairs expected in the trial; the changes made.

    Writes a `TmfExpectation` only where the new choice differs from the current one: a new row where none
    existed (the choice then differs from the default), else the row's `expected` is updated (rows are never
    deleted, an override equal to the default may stay). One audit entry lists every change, old → new.
    """
    if not permissions.can_file_in_tmf(actor, trial):
        raise PermissionDenied
    artifacts = list(TmfArtifact.objects.order_by("number"))
    known = {a.number: a for a in artifacts}
    for number, level in ticked:
        if number not in known or level not in allowed_levels(known[number]):
            raise ValidationError(_("Unknown TMF artifact or level: %(value)s.") % {"value": f"{number}:{level}"})
    rows = {(row.artifact_id, row.level): row
            for row in TmfExpectation.objects.select_for_update().filter(trial=trial)}
    overrides = {key: row.expected for key, row in rows.items()}
    changes, created, updated = {}, [], []
    for artifact in artifacts:
        for level in allowed_levels(artifact):
            old, new = is_expected(artifact, level, overrides), (artifact.number, level) in ticked
            if old == new:
                continue
            changes[f"{artifact.number} {level}"] = [old, new]
            row = rows.get((artifact.pk, level))
            if row is None:
                created.append(TmfExpectation(trial=trial, artifact=artifact, level=level, expected=new))
            else:
                row.expected = new
                updated.append(row)
    TmfExpectation.objects.bulk_create(created)
    TmfExpectation.objects.bulk_update(updated, ["expected"])
    if changes:
        audit.record(actor=actor, action="tmf.expectations_changed", obj=trial,
                     object_repr=f"{trial.nct_number} — TMF", changes=changes)
    return changes
