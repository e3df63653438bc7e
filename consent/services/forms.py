"""Writes of the consent app. Each runs in one transaction and leaves its audit entries."""

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from regulatory import audit, permissions
from regulatory.approvals import effectiveness_blockers, start_refusal
from regulatory.models import InvestigationalSite, TrialPage
from regulatory.services import ensure_review_workflow
from regulatory.tmf import filing
from regulatory.tmf.milestones import activation_gate_refusal

from ..models import ConsentFormIndexPage, ConsentFormVersionPage, FormEffectivity

VERSION_AUDIT_FIELDS = ("title", "kind", "language", "version_number", "version_date", "amendment")


def trial_consent_setup(*, actor, trial: TrialPage) -> None:
    """The trial's consent-forms page, under its own review workflow ("Revue des formulaires de consentement":
    sponsor QA review, then the sponsor's signed approval). Idempotent."""
    index = ConsentFormIndexPage.objects.child_of(trial).first()
    if index is None:
        with translation.override(settings.LANGUAGE_CODE):
            index = ConsentFormIndexPage(title=str(_("Consent forms")), slug="consent-forms", live=False)
        trial.add_child(instance=index)
        index.save_revision(user=actor, log_action=False).publish(user=actor, log_action=False)
        audit.record(actor=actor, action="consentformindex.created", obj=index)
    with translation.override(settings.LANGUAGE_CODE):
        name = _("Consent form review — %(nct)s") % {"nct": trial.nct_number}
    ensure_review_workflow(actor=actor, trial=trial, page=index, name=name)


def index_of(trial: TrialPage) -> ConsentFormIndexPage:
    return ConsentFormIndexPage.objects.child_of(trial).get()


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
                        effective_from: datetime, change_kind: str = "") -> list[FormEffectivity]:
    """Make an approved version the effective one of its kind and language at each site from a date.

    The version it replaces at a site is superseded at that same instant, so at any moment exactly one
    version is effective there. All sites or none.

    `change_kind` is the sponsor's judgement of the change from the previous version, given the first time the
    version is made effective and kept for every site: "substantive" (the participants consent again) or "inform"
    (they are told of it; no new signature). Not given the first time, the change counts as substantive.
    """
    sites = list(sites)
    trial = version.trial
    for site in sites:
        if site.trial_id != trial.pk:
            raise ValidationError(_("This version belongs to another trial."))
        if not permissions.can_manage_site(actor, site):
            raise PermissionDenied
    version = ConsentFormVersionPage.objects.select_for_update().get(pk=version.pk)
    # The sites next, before anything else is written (the judgement's audit entry locks the audit chain): two
    # versions made effective at once then queue on the sites instead of deadlocking.
    locked_sites = list(InvestigationalSite.objects.select_for_update().filter(pk__in=[s.pk for s in sites])
                        .order_by("pk"))
    # And the periods this version may replace, before the first audit entry too: the notice of a period that has
    # just begun locks its period, then writes to the audit chain (`notices.form_effectivity_notify`).
    list(FormEffectivity.objects.select_for_update(of=("self",)).filter(
        site__in=locked_sites, kind=version.kind, language=version.language, effective_until__isnull=True)
        .order_by("pk").values_list("pk", flat=True))
    if version.withdrawn_at is not None:
        raise ValidationError(_("This version has been withdrawn."))
    blockers = effectiveness_blockers(version)
    if blockers:
        raise ValidationError(blockers)
    too_early = start_refusal(version, effective_from)
    if too_early:
        raise ValidationError(too_early)
    _check_scope(version, sites)
    gates = [refusal for refusal in map(activation_gate_refusal, sites) if refusal]
    if gates:
        raise ValidationError(gates)
    if change_kind not in ("", "substantive", "inform"):
        raise ValidationError(_("Say whether the change is substantive (re-consent) or not (inform only)."))
    if version.change_kind and change_kind and change_kind != version.change_kind:
        raise ValidationError(_("The change was already judged %(judged)s on %(at)s; it stays so for every site.")
                              % {"judged": version.get_change_kind_display(),
                                 "at": date_format(timezone.localtime(version.change_judged_at), "DATETIME_FORMAT")
                                 if version.change_judged_at else "—"})
    if not version.change_kind:
        version.change_kind = change_kind or "substantive"
        version.change_judged_by, version.change_judged_at = actor, timezone.now()
        ConsentFormVersionPage.objects.filter(pk=version.pk).update(
            change_kind=version.change_kind, change_judged_by=actor, change_judged_at=version.change_judged_at)
        audit.record(actor=actor, action="consentform.change_judged", obj=version,
                     changes={"change_kind": [None, version.change_kind]})
    created = []
    for site in locked_sites:
        created.append(_open_period(actor=actor, version=version, site=site, effective_from=effective_from))
    return created


def _open_period(*, actor, version, site, effective_from) -> FormEffectivity:
    if FormEffectivity.objects.filter(version=version, site=site).exists():
        raise ValidationError(_("This version is already effective at %(site)s.") % {"site": site.code})
    current = (FormEffectivity.objects.select_for_update(of=("self",))
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
    from .notices import form_effectivity_notify
    from .records import reconsent_tasks_open

    reconsent_tasks_open(version=version, site=site, effective_from=effective_from)
    if effective_from <= timezone.now():  # told now; a later start is told by the cron command when it comes
        transaction.on_commit(lambda: form_effectivity_notify(period_id=period.pk))
    return period


@transaction.atomic
def form_withdraw(*, actor, version: ConsentFormVersionPage, reason: str) -> ConsentFormVersionPage:
    """Withdraw a version: it stops being effective everywhere now, and can never take effect again.

    At a site where it is in force, its period ends now. At a site where it was only scheduled, the period is
    cancelled (it never took effect) and the version it would have replaced stays in force. Re-consent tasks
    that asked for this version are closed: nobody can consent on it any more."""
    if not permissions.can_manage_trial(actor, version.trial):
        raise PermissionDenied
    if not reason.strip():
        raise ValidationError(_("Say why the version is withdrawn."))
    version = ConsentFormVersionPage.objects.select_for_update().get(pk=version.pk)
    if version.withdrawn_at is not None:
        raise ValidationError(_("This version has already been withdrawn."))
    now = timezone.now()
    ended, cancelled, reinstated = [], [], []
    periods = (FormEffectivity.objects.select_for_update(of=("self",)).select_related("site")
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
    replaced = (FormEffectivity.objects.select_for_update(of=("self",)).select_related("version")
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


def default_title(*, kind: str, language: str, version_number: str) -> str:
    """A version's title when its document has none of its own: the form and its version, in its language."""
    from regulatory.models import ConsentKind

    with translation.override(language):
        return _("%(kind)s — version %(version)s") % {"kind": ConsentKind(kind).label, "version": version_number}


def _read_docx(data: bytes, *, allow_tracked_changes: bool):
    from ..docx import DocxRefused, import_docx

    result = import_docx(data, allow_tracked_changes=allow_tracked_changes)
    if not result.information and not result.consent:
        raise DocxRefused(_("The document holds no text that could be imported."))
    return result


def proposed_title(*, data: bytes, kind: str, language: str, version_number: str,
                   allow_tracked_changes: bool = True) -> str:
    """The title the import form proposes for a Word file: its own first title, else the form and its version.
    Reads the file (DocxRefused for a refused one), writes nothing."""
    result = _read_docx(data, allow_tracked_changes=allow_tracked_changes)
    return result.title or default_title(kind=kind, language=language, version_number=version_number or "1.0")


def check_new_version_number(*, trial: TrialPage, kind: str, language: str, version_number: str) -> None:
    """A well-formed number that no version of this form (same kind and language) has yet: "2.0" and "02.0" are
    the same version."""
    from ..models.forms import version_validator

    try:
        version_validator(version_number)
    except ValidationError as error:
        raise ValidationError({"version_number": error.messages}) from error
    key = tuple(int(part) for part in version_number.split("."))
    existing = next((version for version in ConsentFormVersionPage.objects.descendant_of(trial)
                     .filter(kind=kind, language=language) if version.version_key == key), None)
    if existing is not None:
        raise ValidationError({"version_number": _(
            "%(version)s already exists: choose another version number (the next free one is %(next)s), or "
            "leave it empty.") % {"version": existing, "next": next_version_number(
                trial=trial, kind=kind, language=language)}})


def _print_notes(blocks: list[dict]) -> list[str]:
    """What printing does to the tables that do not fit the page as they are (`pdf.plan_table`)."""
    from ..pdf import LANDSCAPE, ORDINARY_CELL_SIZE, column_ranges, table_plans

    notes = []
    for number, value, plan in table_plans(blocks):
        if not plan.adjusted:
            continue
        done = []
        if plan.orientation == LANDSCAPE:
            done.append(_("printed on landscape pages"))
        if plan.font_size < ORDINARY_CELL_SIZE:
            done.append(_("text reduced to %(size)s pt") % {"size": f"{plan.font_size:g}"})
        if plan.widths is not None and len(plan.parts) == 1:
            done.append(_("columns sized to their content"))
        if len(plan.parts) > 1:
            done.append(_("too wide even so: split into %(count)s parts of columns (%(parts)s), the first column "
                          "repeated in each") % {"count": len(plan.parts),
                                                 "parts": "; ".join(column_ranges(part) for part in plan.parts)})
        if plan.repeat_header:
            done.append(_("header row repeated on every page"))
        if plan.split_rows:
            done.append(_("rows taller than a page continue on the next page"))
        first_row = " | ".join(cell for cell in value["rows"][0] if cell)
        notes.append(_("Table %(number)s (%(rows)s rows × %(columns)s columns, “%(start)s”) is wider or taller than "
                       "a page: %(done)s.") % {
            "number": number, "rows": plan.rows, "columns": plan.columns,
            "start": first_row if len(first_row) <= 60 else first_row[:59] + "…", "done": ", ".join(done)})
    return notes


def _check_printable(*, trial: TrialPage, kind: str, title: str, version_number: str, information: list[dict],
                     consent: list[dict]) -> None:
    """What the importer accepts must print: lay the version out once, as its PDF will be, before keeping it."""
    import logging

    from ..docx import DocxRefused
    from ..pdf import FormToPrint, TrialHeader, render_forms

    form = FormToPrint(title=title, kind=kind, kind_label=kind, version_number=version_number, version_date="",
                       approval_reference="", content_hash="0" * 64, information=information, consent=consent)
    header = TrialHeader(short_name=trial.short_name, title=trial.title, nct_number=trial.nct_number,
                         sponsor=trial.sponsor_name)
    try:
        render_forms([form], header=header)
    except Exception as error:  # a layout failure must refuse the file, never leave a version that cannot print
        logging.getLogger(__name__).warning("imported document cannot be laid out", exc_info=True)
        raise DocxRefused(_("The document was read but cannot be laid out for printing (%(error)s). Simplify the "
                            "part concerned (a very large table?) and import it again.")
                          % {"error": str(error)[:200]}) from error


def consent_version_import(*, actor, trial: TrialPage, data: bytes, filename: str, kind: str, language: str,
                           version_number: str = "", version_date=None, title: str = "",
                           accept_tracked_changes_reason: str = "") -> tuple[ConsentFormVersionPage, list[str]]:
    """A sponsor's Word file becomes a new draft version. Refused files (hostile, broken, carrying tracked changes
    or comments without an explicit, recorded acceptance, or that would not print) raise DocxRefused, a version
    number already used raises ValidationError: either way nothing is created.

    The title is the one the sponsor confirmed; empty, the document's own title (`heuristics.propose_title`), else
    the form and its version. When the document's title is the version's, its heading leaves the text (the PDF
    prints the title above it). Returns the version and the import notes (what was dropped, changed or kept
    differently: shown to the sponsor and kept with the version)."""
    import hashlib

    if not permissions.can_manage_trial(actor, trial):
        raise PermissionDenied
    version_number = version_number or next_version_number(trial=trial, kind=kind, language=language)
    check_new_version_number(trial=trial, kind=kind, language=language, version_number=version_number)
    result = _read_docx(data, allow_tracked_changes=bool(accept_tracked_changes_reason.strip()))
    information = list(result.information)
    title = " ".join(title.split())
    notes = list(result.unmapped)
    if not title and result.title:
        title = result.title
    if title and title == result.title and result.title_at is not None:
        del information[result.title_at]
        notes.append(_("The document's title “%(title)s” is the version's title: printed once, above the text.")
                     % {"title": title})
    title = title or default_title(kind=kind, language=language, version_number=version_number)
    notes.extend(_print_notes(information + list(result.consent)))
    _check_printable(trial=trial, kind=kind, title=title, version_number=version_number, information=information,
                     consent=result.consent)
    recorded = [_("Imported from %(name)s (SHA-256 %(sha)s).") % {"name": filename[:200],
                                                                  "sha": hashlib.sha256(data).hexdigest()}]
    counts = result.tracked_changes
    if any(counts.values()):
        recorded.append(_("Tracked changes and comments accepted as they stand (%(ins)s insertions, %(dels)s "
                          "deletions, %(comments)s comments): %(reason)s") % {
            "ins": counts.get("insertions", 0), "dels": counts.get("deletions", 0),
            "comments": counts.get("comments", 0), "reason": accept_tracked_changes_reason.strip()})
    with transaction.atomic():
        # One import at a time per trial, so that two of the same number cannot both pass the check.
        ConsentFormIndexPage.objects.select_for_update().get(pk=index_of(trial).pk)
        check_new_version_number(trial=trial, kind=kind, language=language, version_number=version_number)
        version = consent_version_create(
            actor=actor, trial=trial, publish=False, kind=kind, language=language, version_number=version_number,
            version_date=version_date or timezone.localdate(), title=title, information=information,
            consent=result.consent, import_notes="\n".join(recorded + notes))
    return version, notes


def consent_version_export(version: ConsentFormVersionPage) -> bytes:
    """A version as a Word file, for an ethics submission."""
    from .. import selectors
    from ..blocks import neutral
    from ..docx import export_docx

    trial = version.trial
    return export_docx(
        title=version.title,
        subtitle=f"{trial.nct_number} — {version.get_kind_display()} — version {version.version_number} du "
                 f"{version.version_date:%d/%m/%Y}",
        information=neutral(version.information), consent=neutral(version.consent),
        footer=f"{trial.nct_number} — {version.get_kind_display()} — version {version.version_number} du "
               f"{version.version_date:%d/%m/%Y} — {selectors.approval_reference(version) or 'sans avis'} — "
               f"empreinte {version.content_hash[:16]}",
    )
