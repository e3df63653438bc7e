"""What a site's own staff may do there: acknowledge amendments, record under the principal investigator's
delegation log (consents, emergency inclusions, participants, withdrawals, deaths), countersign consents; and who
keeps and reads the delegation log and the investigator site file (ISF).

Reading the delegation log aside (whoever reads the site), none of these is an administrator's by virtue of being
one.
"""

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..models import InvestigationalSite, Role
from .access import access, is_authenticated
from .roles import ACCESS_SITE, ACKNOWLEDGE_AMENDMENT, RECORD_CONSENT
from .rules import can_access_site


def _is_investigator_of(user, site: InvestigationalSite) -> bool:
    """A member of the site's investigator role group."""
    return is_authenticated(user) and any(
        role == Role.INVESTIGATOR and site_id == site.pk for role, _trial, site_id in access(user).role_groups)


def can_acknowledge(user, site: InvestigationalSite) -> bool:
    """Only the site's own staff acknowledge for it (an administrator's superuser rights do not count)."""
    return is_authenticated(user) and access(user).is_site_staff(site.pk, ACKNOWLEDGE_AMENDMENT)


def is_site_staff(user, site: InvestigationalSite) -> bool:
    """A member of the site's own staff (investigator or coordinator), who records there what the delegation log
    lets them record (never an administrator by virtue of being one, never the sponsor or an inspector)."""
    return is_authenticated(user) and access(user).is_site_staff(site.pk, RECORD_CONSENT)


# --- The delegation log (ICH E6(R3) 2.3.3) ------------------------------------------------------------------------
#
# Site staff record a consent, attest an emergency inclusion, register participants, record a withdrawal or a
# death only while the principal investigator's delegation log gives them that task: on the day it is done (the
# signing date of a consent), by an entry signed by the principal investigator and acknowledged by the staff member,
# and (where the trial's sponsor turned the rule on: `TrialPage.delegation_requires_training`) once the site has
# acknowledged the protocol version in force that day. `delegation_refusal` says why not; the `can_*` below ask it.

def is_principal_investigator(user, site: InvestigationalSite) -> bool:
    """The site's principal investigator: the account the sponsor named on the site, still one of its
    investigators."""
    return (is_authenticated(user) and site.principal_investigator_account_id == user.pk
            and _is_investigator_of(user, site))


def _local_day(at):
    """The day of `at` in Paris (today when None); a date is taken as it is."""
    from datetime import date
    from zoneinfo import ZoneInfo

    if at is None:
        return timezone.localdate(timezone.now(), ZoneInfo("Europe/Paris"))
    if isinstance(at, datetime):
        return timezone.localdate(at, ZoneInfo("Europe/Paris"))
    if isinstance(at, date):
        return at
    raise TypeError(at)


def _shown_day(day) -> str:
    return f"{day:%d/%m/%Y}"


def delegation_refusal(user, site: InvestigationalSite, task: str, at=None) -> str | None:
    """Why `user` may not do `task` (a `DelegatedTask`) at `site` on the day of `at` (a moment, or a date; today
    when not given), or None when the delegation log allows it."""
    from ..models import DelegatedTask, DelegationEntry, SiteAcknowledgement

    label = dict(DelegatedTask.choices)[task]
    if not is_site_staff(user, site):
        return str(_("Only the staff of %(site)s record there.") % {"site": site.code})
    day = _local_day(at)
    entries = [entry for entry in DelegationEntry.objects.filter(site=site, staff=user).select_related(
        "site__trial").order_by("start_date", "pk") if task in entry.tasks]
    values = {"name": user.get_full_name() or user.get_username(), "site": site.code, "task": label,
              "day": _shown_day(day)}
    if not entries:
        return str(_("%(name)s is not on the delegation log of %(site)s for the task “%(task)s”: only the principal "
                     "investigator can delegate it. Nothing was recorded.") % values)
    covering = [entry for entry in entries if entry.covers(day)]
    if not covering:
        ended = [entry.end_date for entry in entries if entry.end_date is not None and entry.end_date < day]
        if ended:
            return str(_("%(name)s has not been on the delegation log of %(site)s for the task “%(task)s” since "
                         "%(since)s (the delegation ended on %(end)s), so not on %(day)s. Nothing was recorded.") % {
                **values, "since": _shown_day(max(ended) + timedelta(days=1)), "end": _shown_day(max(ended))})
        start = min(entry.start_date for entry in entries if entry.start_date > day)
        return str(_("%(name)s is on the delegation log of %(site)s for the task “%(task)s” only from %(start)s, "
                     "not on %(day)s. Nothing was recorded.") % {**values, "start": _shown_day(start)})
    if not any(entry.acknowledged_at for entry in covering):
        return str(_("The delegation of the task “%(task)s” to %(name)s awaits their acknowledgement on the "
                     "delegation log of %(site)s: it takes effect once acknowledged. Nothing was recorded.") % values)
    if entries[0].site.trial.delegation_requires_training:
        from ..selectors import effective_version

        moment = at if isinstance(at, datetime) else timezone.now()
        version = effective_version(site=site, at=moment)
        if version is not None and not SiteAcknowledgement.objects.filter(
                activation__site=site, activation__version=version, acknowledged_at__lte=moment).exists():
            return str(_("The delegation of the task “%(task)s” to %(name)s takes effect once %(site)s has "
                         "acknowledged the protocol version in force, %(version)s (the sponsor requires it). Nothing "
                         "was recorded.") % {**values, "version": version.title})
    return None


def can_do_delegated(user, site: InvestigationalSite, task: str, at=None) -> bool:
    return delegation_refusal(user, site, task, at) is None


def can_record_consent(user, site: InvestigationalSite, at=None) -> bool:
    """Recording a consent (or a refusal, or a continuation consent): site staff delegated "obtain informed
    consent" on the signing date."""
    return can_do_delegated(user, site, "consent", at)


def can_register_participant(user, site: InvestigationalSite, at=None) -> bool:
    """Registering a participant, or recording one as not included: site staff delegated to."""
    return can_do_delegated(user, site, "register", at)


def can_record_withdrawal(user, site: InvestigationalSite, at=None) -> bool:
    return can_do_delegated(user, site, "withdrawal", at)


def can_record_death(user, site: InvestigationalSite, at=None) -> bool:
    return can_do_delegated(user, site, "death", at)


def emergency_refusal(user, site: InvestigationalSite, at=None) -> str | None:
    """Why `user` may not attest an emergency inclusion at `site` then: only an investigator of the site (a member
    of its investigator role group, EU CTR art. 35, CSP L1122-1-2; not a study coordinator, not an administrator
    by virtue of being one), delegated the attestation on the delegation log."""
    if not _is_investigator_of(user, site):
        return str(_("Only an investigator of %(site)s can attest an emergency inclusion: the investigator "
                     "certifies the emergency conditions and records the inclusion under their own account. Nothing "
                     "was recorded.") % {"site": site.code})
    return delegation_refusal(user, site, "emergency", at)


def can_attest_emergency_inclusion(user, site: InvestigationalSite, at=None) -> bool:
    return emergency_refusal(user, site, at) is None


def can_keep_delegation_log(user, site: InvestigationalSite) -> bool:
    """Writing and signing entries of the site's delegation log: its principal investigator only."""
    return is_principal_investigator(user, site)


def can_read_delegation_log(user, site: InvestigationalSite) -> bool:
    """Whoever reads the site (`can_access_site`): its staff, the trial's sponsor, QA and TMF QC, inspectors in a
    window covering it, administrators."""
    return can_access_site(user, site)


def can_read_isf(user, site: InvestigationalSite) -> bool:
    """The investigator site file: the site's own staff, and inspectors in an open window covering the site.
    Not the sponsor, nor an administrator by virtue of being one: the ISF holds the site's signed consent records,
    which stay at the site."""
    if not is_authenticated(user):
        return False
    if access(user).is_site_staff(site.pk, ACCESS_SITE):
        return True
    grants = access(user).grants
    if site.trial_id not in grants:
        return False
    chosen = grants[site.trial_id]
    return chosen is None or site.pk in chosen


def prints_site_forms(user, site: InvestigationalSite) -> bool:
    """Site staff (investigator, coordinator) of this site, offered its current forms to print from their home
    page. Anyone reading the site may print them from its page (`sites_accessible`); this only decides the
    home page's shortcut."""
    return is_authenticated(user) and access(user).is_site_staff(site.pk, ACCESS_SITE)


def can_countersign_consent(user, site: InvestigationalSite) -> bool:
    """The investigator's countersignature of a consent (ICH E6(R3): the investigator, or the qualified person the
    investigator delegated, signs the form): an investigator of the site, never a coordinator, an administrator or
    the sponsor by virtue of being one."""
    return _is_investigator_of(user, site)
