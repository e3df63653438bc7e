"""Writes of the consent app. Each runs in one transaction and leaves its audit entries."""

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from wagtail.models import WorkflowPage

from regulatory import audit, filing, permissions
from regulatory.approvals import earliest_effective_date, effectiveness_blockers
from regulatory.models import InvestigationalSite, TrialPage
from regulatory.services import review_workflow

from ..models import ConsentFormIndexPage, ConsentFormVersionPage, FormEffectivity

VERSION_AUDIT_FIELDS = ("title", "kind", "language", "version_number", "version_date", "amendment")


def trial_consent_setup(*, actor, trial: TrialPage) -> None:
    """The trial's consent-forms page, under the same review workflow as the protocol. Idempotent."""
    index = ConsentFormIndexPage.objects.child_of(trial).first()
    if index is None:
        with translation.override(settings.LANGUAGE_CODE):
            index = ConsentFormIndexPage(title=str(_("Consent forms")), slug="consent-forms", live=False)
        trial.add_child(instance=index)
        index.save_revision(user=actor, log_action=False).publish(user=actor, log_action=False)
        audit.record(actor=actor, action="consentformindex.created", obj=index)
    if not WorkflowPage.objects.filter(page=index).exists():
        WorkflowPage.objects.create(workflow=review_workflow(trial), page=index)


def index_of(trial: TrialPage) -> ConsentFormIndexPage:
    return ConsentFormIndexPage.objects.child_of(trial).get()


def trial_of(version: ConsentFormVersionPage) -> TrialPage:
    return TrialPage.objects.ancestor_of(version).get()


@transaction.atomic
def consent_version_create(*, actor, trial: TrialPage, publish: bool = False,
                           sites: Iterable[InvestigationalSite] = (), import_notes: str = "",
                           **fields) -> ConsentFormVersionPage:
    """A new consent-form version as a draft (published straight away only for historical records)."""
    fields.setdefault("slug", f"{fields['kind']}-{fields.get('language', 'fr')}-v{fields['version_number']}"
                      .replace(".", "-"))
    version = ConsentFormVersionPage(live=False, import_notes=import_notes, **fields)
    version.sites = list(sites)
    index_of(trial).add_child(instance=version)
    revision = version.save_revision(user=actor, log_action=False)
    if publish:
        revision.publish(user=actor, log_action=False)
        version.refresh_from_db()
    audit.record(actor=actor, action="consentformversion.created", obj=version, changes={
        **audit.diff({}, audit.snapshot(version, VERSION_AUDIT_FIELDS)),
        "sites": [None, [site.code for site in sites]], "content_sha256": [None, version.content_hash],
    }, reason=import_notes)
    return version


def _check_scope(version: ConsentFormVersionPage, sites: list[InvestigationalSite]) -> None:
    scope = set(version.sites.values_list("pk", flat=True))
    outside = [site.code for site in sites if scope and site.pk not in scope]
    if outside:
        raise ValidationError(_("This site-specific version is not meant for %(sites)s.")
                              % {"sites": ", ".join(outside)})


@transaction.atomic
def form_make_effective(*, actor, version: ConsentFormVersionPage, sites: Iterable[InvestigationalSite],
                        effective_from: datetime) -> list[FormEffectivity]:
    """Make an approved version the effective one of its kind and language at each site from a date.

    The version it replaces at a site is superseded at that same instant, so at any moment exactly one
    version is effective there. All sites or none.
    """
    sites = list(sites)
    trial = trial_of(version)
    for site in sites:
        if site.trial_id != trial.pk:
            raise ValidationError(_("This version belongs to another trial."))
        if not permissions.can_manage_site(actor, site):
            raise PermissionDenied
    version = ConsentFormVersionPage.objects.select_for_update().get(pk=version.pk)
    if version.withdrawn_at is not None:
        raise ValidationError(_("This version has been withdrawn."))
    blockers = effectiveness_blockers(version)
    if blockers:
        raise ValidationError(blockers)
    earliest = earliest_effective_date(version)
    if earliest and timezone.localtime(effective_from).date() < earliest:
        raise ValidationError(_("It cannot take effect before %(date)s, the date of the opinion that allows it.")
                              % {"date": date_format(earliest)})
    _check_scope(version, sites)
    created = []
    for site in InvestigationalSite.objects.select_for_update().filter(pk__in=[s.pk for s in sites]).order_by("pk"):
        created.append(_open_period(actor=actor, version=version, site=site, effective_from=effective_from))
    return created


def _open_period(*, actor, version, site, effective_from) -> FormEffectivity:
    if FormEffectivity.objects.filter(version=version, site=site).exists():
        raise ValidationError(_("This version is already effective at %(site)s.") % {"site": site.code})
    current = (FormEffectivity.objects.select_for_update()
               .filter(site=site, kind=version.kind, language=version.language, effective_until__isnull=True)
               .select_related("version").first())
    if current is not None:
        if current.version.version_key > version.version_key:
            raise ValidationError(_("A later version (%(current)s) is in force at %(site)s.")
                                  % {"current": current.version, "site": site.code})
        if current.effective_from >= effective_from:
            raise ValidationError(_("%(current)s takes effect at %(site)s on %(date)s: a new version must start "
                                    "later.") % {"current": current.version, "site": site.code,
                                                 "date": date_format(timezone.localtime(current.effective_from),
                                                                     "DATETIME_FORMAT")})
    ended = (FormEffectivity.objects.filter(site=site, kind=version.kind, language=version.language,
                                            effective_until__gt=effective_from)
             .select_related("version").order_by("-effective_until").first())
    if ended is not None:  # a closed period (a withdrawn version's) still ran at that date
        raise ValidationError(_("%(version)s was in force at %(site)s until %(date)s: a new version must start then "
                                "or later.") % {"version": ended.version, "site": site.code,
                                                "date": date_format(timezone.localtime(ended.effective_until),
                                                                    "DATETIME_FORMAT")})
    if current is not None:
        current.effective_until = effective_from
        current.save(update_fields=["effective_until"])
        audit.record(actor=actor, action="consentform.superseded", obj=current.version,
                     changes={"site": [None, site.code], "effective_until": [None, effective_from]})
    try:
        with transaction.atomic():
            period = FormEffectivity.objects.create(
                version=version, site=site, kind=version.kind, language=version.language,
                effective_from=effective_from, made_effective_by=actor)
    except IntegrityError as error:
        raise ValidationError(_("Another version of this form was made effective at %(site)s at the same moment; "
                                "reload and try again.") % {"site": site.code}) from error
    audit.record(actor=actor, action="consentform.made_effective", obj=version, changes={
        "site": [None, site.code], "effective_from": [None, effective_from],
        "replaces": [None, str(current.version) if current else None]})
    from .records import reconsent_tasks_open

    reconsent_tasks_open(version=version, site=site, effective_from=effective_from)
    return period


@transaction.atomic
def form_withdraw(*, actor, version: ConsentFormVersionPage, reason: str) -> ConsentFormVersionPage:
    """Withdraw a version: it stops being effective everywhere now, and can never take effect again.

    At a site where it is in force, its period ends now. At a site where it was only scheduled, the period is
    cancelled (it never took effect) and the version it would have replaced stays in force. Re-consent tasks
    that asked for this version are closed: nobody can consent on it any more."""
    if not permissions.can_manage_trial(actor, trial_of(version)):
        raise PermissionDenied
    if not reason.strip():
        raise ValidationError(_("Say why the version is withdrawn."))
    version = ConsentFormVersionPage.objects.select_for_update().get(pk=version.pk)
    if version.withdrawn_at is not None:
        raise ValidationError(_("This version has already been withdrawn."))
    now = timezone.now()
    ended, cancelled, reinstated = [], [], []
    periods = (FormEffectivity.objects.select_for_update().select_related("site")
               .filter(version=version, effective_until__isnull=True).order_by("site_id"))
    for period in periods:
        if period.effective_from < now:
            period.effective_until = now
            period.save(update_fields=["effective_until"])
            ended.append(period.site.code)
        else:
            cancelled.append(period.site.code)
            if (replaced := _cancel_period(actor=actor, period=period, reason=reason)) is not None:
                reinstated.append(replaced)
    ConsentFormVersionPage.objects.filter(pk=version.pk).update(withdrawn_at=now, withdrawal_reason=reason)
    version.refresh_from_db()
    from .records import reconsent_tasks_close, reconsent_tasks_open

    closed = reconsent_tasks_close(version=version, at=now)
    for period in reinstated:  # who was to re-consent on the cancelled version re-consents on this one
        reconsent_tasks_open(version=period.version, site=period.site, effective_from=period.effective_from)
    audit.record(actor=actor, action="consentform.withdrawn", obj=version, reason=reason,
                 changes={"withdrawn_at": [None, now], "ended_at_sites": [None, ended],
                          "cancelled_at_sites": [None, cancelled], "reconsent_tasks_closed": [None, closed]})
    filing.refile_for(version)  # the TMF copies are marked withdrawn
    return version


def _cancel_period(*, actor, period: FormEffectivity, reason: str) -> FormEffectivity | None:
    """A withdrawn version's period that has not begun is deleted, and the version it was to supersede at that
    instant is put back in force there (`_open_period` had ended it at the period's start): that period returned."""
    replaced = (FormEffectivity.objects.select_for_update().select_related("version")
                .filter(site=period.site, kind=period.kind, language=period.language,
                        effective_until=period.effective_from, version__withdrawn_at__isnull=True).first())
    period.delete()
    if replaced is not None:
        replaced.effective_until = None
        replaced.save(update_fields=["effective_until"])
        audit.record(actor=actor, action="consentform.reinstated", obj=replaced.version, reason=reason, changes={
            "site": [None, period.site.code], "effective_until": [period.effective_from, None],
            "because_withdrawn": [None, str(period.version)]})
    return replaced


def next_version_number(*, trial: TrialPage, kind: str, language: str) -> str:
    """The next major version of a form: 1.0 for the first, then one above the highest (2.3 → 3.0)."""
    numbers = [v.version_key for v in ConsentFormVersionPage.objects.descendant_of(trial)
               .filter(kind=kind, language=language)]
    return f"{max(numbers)[0] + 1}.0" if numbers else "1.0"


@transaction.atomic
def consent_version_import(*, actor, trial: TrialPage, data: bytes, filename: str, kind: str, language: str,
                           version_number: str = "", version_date=None, title: str = "",
                           accept_tracked_changes_reason: str = "") -> tuple[ConsentFormVersionPage, list[str]]:
    """A sponsor's Word file becomes a new draft version. Refused files (hostile, broken, or carrying tracked
    changes or comments without an explicit, recorded acceptance) raise DocxRefused and create nothing.
    Returns the version and the notes of what could not be mapped."""
    import hashlib

    from ..docx import import_docx

    if not permissions.can_manage_trial(actor, trial):
        raise PermissionDenied
    result = import_docx(data, allow_tracked_changes=bool(accept_tracked_changes_reason.strip()))
    if not result.information and not result.consent:
        from ..docx import DocxRefused

        raise DocxRefused(_("The document holds no text that could be imported."))
    notes = [_("Imported from %(name)s (SHA-256 %(sha)s).") % {"name": filename[:200],
                                                              "sha": hashlib.sha256(data).hexdigest()}]
    counts = result.tracked_changes
    if any(counts.values()):
        notes.append(_("Tracked changes and comments accepted as they stand (%(ins)s insertions, %(dels)s deletions, "
                       "%(comments)s comments): %(reason)s") % {"ins": counts.get("insertions", 0),
                                                               "dels": counts.get("deletions", 0),
                                                               "comments": counts.get("comments", 0),
                                                               "reason": accept_tracked_changes_reason.strip()})
    notes.extend(result.unmapped)
    version = consent_version_create(
        actor=actor, trial=trial, publish=False, kind=kind, language=language,
        version_number=version_number or next_version_number(trial=trial, kind=kind, language=language),
        version_date=version_date or timezone.localdate(), title=(title or result.title or filename)[:255],
        information=result.information, consent=result.consent, import_notes="\n".join(notes))
    return version, list(result.unmapped)


def consent_version_export(version: ConsentFormVersionPage) -> bytes:
    """A version as a Word file, for an ethics submission."""
    from .. import selectors
    from ..blocks import neutral
    from ..docx import export_docx

    trial = trial_of(version)
    return export_docx(
        title=version.title,
        subtitle=f"{trial.nct_number} — {version.get_kind_display()} — version {version.version_number} du "
                 f"{version.version_date:%d/%m/%Y}",
        information=neutral(version.information), consent=neutral(version.consent),
        footer=f"{trial.nct_number} — {version.get_kind_display()} — version {version.version_number} du "
               f"{version.version_date:%d/%m/%Y} — {selectors.approval_reference(version) or 'sans avis'} — "
               f"empreinte {version.content_hash[:16]}",
    )
