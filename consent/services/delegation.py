"""The principal investigator's delegation log: entries signed by the principal investigator, acknowledged by the
staff member, each signature printing the whole log again as a PDF signed for the site (PAdES), filed in the ISF
and the TMF (05.02.18 Site Signature Sheet: "Delegation of Authority Log", `consent.tmf_sources`).

What an entry allows is decided in `regulatory.permissions.delegation_refusal`.
"""

import hashlib
import secrets
from datetime import date
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cms.files import StorageFailed, save_whole
from regulatory import accounts, audit, permissions
from regulatory.models import DelegatedTask, DelegationEntry, DelegationLogPrint, InvestigationalSite
from regulatory.tmf import sheets

from ..pki import load_identity
from ..signing import SignatureRequest, SigningError, sign_pdf

PARIS = ZoneInfo("Europe/Paris")
PI_MEANING = ("Délégation signée par %(name)s, investigateur principal de %(site)s, le %(date)s à %(time)s (heure de "
              "Paris)")
ACK_MEANING = "Prise de connaissance signée par %(name)s le %(date)s à %(time)s (heure de Paris)"


def _meaning(template: str, *, name: str, at, site: str = "") -> str:
    local = timezone.localtime(at, PARIS)
    return template % {"name": name, "site": site, "date": f"{local:%d/%m/%Y}", "time": f"{local:%H:%M}"}


def _name(user) -> str:
    return user.get_full_name() or user.get_username()


def delegation_entry_check(*, actor, site: InvestigationalSite, staff, tasks, start_date: date | None,
                           end_date: date | None) -> list[str]:
    """Everything an entry needs before any password is asked: the signer is the site's principal investigator,
    the staff member is on the site's staff, the tasks are known (the emergency attestation only to an
    investigator), the dates are in order. Returns the tasks in their canonical order; a ValidationError says
    what is wrong."""
    if not permissions.can_keep_delegation_log(actor, site):
        pi = site.principal_investigator_account
        raise ValidationError(_("Only the principal investigator of %(site)s (%(pi)s) signs its delegation log. "
                                "Nothing was recorded.") % {
            "site": site.code, "pi": _name(pi) if pi else _("not named yet by the sponsor")})
    errors = []
    if staff is None or not permissions.is_site_staff(staff, site):
        errors.append(_("Choose a member of the staff of %(site)s.") % {"site": site.code})
    known = [task for task in DelegatedTask.values if task in set(tasks or ())]
    if not known or len(known) != len(set(tasks or ())):
        errors.append(_("Choose at least one task among those listed."))
    if (DelegatedTask.EMERGENCY in known and staff is not None
            and not permissions.site_investigators(site).filter(pk=staff.pk).exists()):
        errors.append(_("Only an investigator of the site can be delegated the attestation of an emergency "
                        "inclusion."))
    if start_date is None:
        errors.append(_("Give the date the delegation starts."))
    elif end_date is not None and end_date < start_date:
        errors.append(_("The delegation ends (%(end)s) before it starts (%(start)s). Nothing was recorded.") % {
            "end": f"{end_date:%d/%m/%Y}", "start": f"{start_date:%d/%m/%Y}"})
    if errors:
        raise ValidationError(errors)
    return known


def _check_signature(actor, username: str, password: str, *, obj, message: str) -> None:
    if accounts.signing_suspended(actor):
        audit.record(actor=actor, action="delegation.signing_throttled", obj=obj,
                     reason="login throttle in force for this user")
        raise ValidationError(_("Too many wrong passwords: signing is suspended for a few minutes, as logging in "
                                "is. Nothing was recorded."))
    # Outside the transaction: a failed re-authentication stays in the audit trail and counts towards the throttle.
    if not accounts.signature_components_match(actor, username, password, what="delegation"):
        raise ValidationError(message)


def delegation_entry_create(*, actor, site: InvestigationalSite, staff, tasks, start_date: date | None,
                            end_date: date | None, username: str, password: str) -> DelegationEntry:
    """The principal investigator delegates `tasks` to `staff` from `start_date` to `end_date` (open-ended when
    None), signing with their user name and password; the log is printed again, signed and filed. All or
    nothing."""
    known = delegation_entry_check(actor=actor, site=site, staff=staff, tasks=tasks, start_date=start_date,
                                   end_date=end_date)
    _check_signature(actor, username, password, obj=site,
                     message=_("Your user name or password is not correct: the delegation was not recorded."))
    with transaction.atomic():
        site = InvestigationalSite.objects.select_for_update().get(pk=site.pk)
        now = timezone.now()
        entry = DelegationEntry.objects.create(
            site=site, staff=staff, staff_name=_name(staff), tasks=known, start_date=start_date, end_date=end_date,
            signed_by=actor, signer_name=_name(actor), signed_at=now,
            meaning=_meaning(PI_MEANING, name=_name(actor), at=now, site=site.code))
        audit.record(actor=actor, action="delegation.signed", obj=entry, changes={
            "staff": [None, entry.staff_name], "tasks": [None, known], "start_date": [None, start_date],
            "end_date": [None, end_date], "meaning": [None, entry.meaning]})
        print_log(site=site, actor=actor)
    return entry


def delegation_acknowledge(*, actor, entry: DelegationEntry, username: str, password: str) -> DelegationEntry:
    """The staff member acknowledges the entry delegating to them, signing with their user name and password."""
    if entry.staff_id != getattr(actor, "pk", None):
        raise ValidationError(_("Only the staff member named on this entry acknowledges it. Nothing was recorded."))
    if entry.acknowledged_at is not None:
        raise ValidationError(_("This delegation was already acknowledged."))
    _check_signature(actor, username, password, obj=entry,
                     message=_("Your user name or password is not correct: nothing was acknowledged."))
    with transaction.atomic():
        InvestigationalSite.objects.select_for_update().get(pk=entry.site_id)
        entry = DelegationEntry.objects.select_for_update().get(pk=entry.pk)
        if entry.acknowledged_at is not None:
            raise ValidationError(_("This delegation was already acknowledged."))
        now = timezone.now()
        entry.acknowledged_at = now
        entry.acknowledgement_meaning = _meaning(ACK_MEANING, name=_name(actor), at=now)
        entry.save(update_fields=["acknowledged_at", "acknowledgement_meaning"])
        audit.record(actor=actor, action="delegation.acknowledged", obj=entry,
                     changes={"acknowledged_at": [None, now], "meaning": [None, entry.acknowledgement_meaning]})
        print_log(site=entry.site, actor=actor)
    return entry


def print_log(*, site: InvestigationalSite, actor=None) -> DelegationLogPrint:
    """Print the site's whole log as a new version of its PDF, signed for the site (PAdES), inside the caller's
    transaction; no file is left without its row."""
    entries = list(DelegationEntry.objects.filter(site=site).order_by("signed_at", "pk"))
    number = (DelegationLogPrint.objects.filter(site=site).order_by("-number").values_list("number", flat=True)
              .first() or 0) + 1
    unsigned = sheets.delegation_log_sheet(site, entries, number=number)
    try:
        identity = load_identity(role="site", site_code=site.code)
        signed = sign_pdf(unsigned, identity=identity, request=SignatureRequest(
            field_name="Centre", reason=f"Registre de délégation {site.code}, version {number}",
            location=f"{site.name}, {site.country}"))
    except SigningError as error:
        raise ValidationError(_("The delegation log could not be signed, so nothing was recorded: %(error)s")
                              % {"error": error}) from error
    sha256 = hashlib.sha256(signed).hexdigest()
    log = DelegationLogPrint(site=site, number=number, sha256=sha256, signer=identity.display_name,
                             entries=len(entries))
    try:
        save_whole(log.file, f"{secrets.token_hex(16)}.pdf", ContentFile(signed))
    except StorageFailed as error:
        raise ValidationError(StorageFailed.message) from error
    try:
        log.save()
        audit.record(actor=actor, action="delegation.printed", obj=log,
                     changes={"version": [None, number], "sha256": [None, sha256]})
    except Exception:
        log.file.delete(save=False)
        raise
    return log


def staff_choices(site: InvestigationalSite):
    """The staff of the site, whom the principal investigator may delegate to."""
    return permissions.site_staff_members(site).order_by("last_name", "first_name", "username")
