"""Protocol versions taking effect at sites, the sites being told, and their acknowledgements."""

import logging
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from cms.public import public_url
from regulatory.tmf.milestones import activation_gate_refusal

from .. import audit, permissions
from ..approvals import effectiveness_blockers, start_refusal
from ..mail import send_formal
from ..models import ActivationNotice, InvestigationalSite, ProtocolVersionPage, SiteAcknowledgement, SiteActivation
from ..selectors import site_staff

logger = logging.getLogger(__name__)


@transaction.atomic
def activation_create(*, actor, version: ProtocolVersionPage, site: InvestigationalSite, effective_from: datetime,
                      justification: str = "") -> SiteActivation:
    """Make a version effective at a site from a date, once the approval rules allow it."""
    if not permissions.can_manage_site(actor, site):
        raise PermissionDenied
    version = ProtocolVersionPage.objects.select_for_update().get(pk=version.pk)
    if version.trial.pk != site.trial_id:
        raise ValidationError(_("This version belongs to another trial."))
    gate = activation_gate_refusal(site)
    if gate:
        raise ValidationError(gate)
    blockers = effectiveness_blockers(version, justification=justification)
    if blockers:
        raise ValidationError(blockers)
    too_early = start_refusal(version, effective_from)
    if too_early:
        raise ValidationError(too_early)
    if SiteActivation.objects.filter(version=version, site=site).exists():
        raise ValidationError(_("This version is already effective at %(site)s.") % {"site": site.code})
    later = [a.version for a in SiteActivation.objects.filter(site=site).select_related("version")
             if a.version.version_key > version.version_key]
    if later:
        raise ValidationError(_("A later version (%(version)s) is already effective at %(site)s.")
                              % {"version": later[0], "site": site.code})
    try:
        with transaction.atomic():
            activation = SiteActivation.objects.create(version=version, site=site, effective_from=effective_from,
                                                       activated_by=actor, justification=justification)
    except IntegrityError as error:
        raise ValidationError(_("This version is already effective at %(site)s.") % {"site": site.code}) from error
    audit.record(actor=actor, action="activation.created", obj=activation, reason=justification, changes={
        "version": [None, str(version)], "site": [None, site.code], "effective_from": [None, effective_from]})
    if effective_from <= timezone.now():
        transaction.on_commit(lambda: activation_notify(activation_id=activation.pk))
    return activation


def _mail(*, activation: SiteActivation, kind: str, users: list) -> list[str]:
    """The notice (or reminder) to the site's staff, each in their language; returns the addresses written to."""
    version, site = activation.version, activation.site
    trial = version.trial

    def subject():
        prefix = _("Reminder: ") if kind == ActivationNotice.Kind.REMINDER else ""
        return _("%(prefix)s[%(nct)s] %(version)s is effective at %(site)s — please acknowledge") % {
            "prefix": prefix, "nct": trial.nct_number, "version": version, "site": site.code}

    def paragraphs():
        return [
            _("%(version)s of the trial %(nct)s is effective at %(site)s since %(date)s.") % {
                "version": version, "nct": trial.nct_number, "site": site.name,
                "date": date_format(timezone.localtime(activation.effective_from), "DATETIME_FORMAT")},
            _("Summary of changes:") + "\n" + (version.summary_of_changes or "—"),
            _("Read it: %(url)s") % {"url": public_url(version.get_url())},
            _("Please acknowledge it on your site's page: %(url)s") % {
                "url": public_url(trial.get_url() + trial.reverse_subpage("site_detail", args=[site.code.lower()]))},
        ]

    return send_formal(users=users, subject=subject, paragraphs=paragraphs)


def activation_notify(*, activation_id: int) -> bool:
    """Tell the site's staff that a version is effective there (e-mail; the in-app list derives from the
    activation itself). Returns False when already done or when the e-mail could not be sent (retried later)."""
    with transaction.atomic():
        activation = (SiteActivation.objects.select_for_update(of=("self",)).select_related("version", "site")
                      .get(pk=activation_id))
        if activation.notified_at is not None or activation.effective_from > timezone.now():
            return False
        staff = site_staff(site=activation.site)
        try:
            recipients = _mail(activation=activation, kind=ActivationNotice.Kind.NOTICE, users=staff)
        except OSError:
            logger.exception("Could not e-mail the notice of activation %s; it will be retried", activation.pk)
            return False
        ActivationNotice.objects.create(activation=activation, kind=ActivationNotice.Kind.NOTICE,
                                        recipients=recipients)
        activation.notified_at = timezone.now()
        activation.save(update_fields=["notified_at"])
        audit.record(actor=None, action="activation.notified", obj=activation,
                     changes={"recipients": [None, recipients]})
    return True


def activations_notify_due(*, now: datetime | None = None) -> int:
    """Notify every activation whose effective date has come and that was not notified yet (run by cron)."""
    now = now or timezone.now()
    due = SiteActivation.objects.filter(notified_at__isnull=True, effective_from__lte=now).values_list("pk", flat=True)
    return sum(activation_notify(activation_id=pk) for pk in list(due))


def _effective_unacknowledged(activation: SiteActivation, *, allowed, not_yet: str, already: str) -> SiteActivation:
    """The activation, locked, once the actor may act on it, it is effective, and the site has not acknowledged."""
    activation = (SiteActivation.objects.select_for_update(of=("self",)).select_related("site", "version")
                  .get(pk=activation.pk))
    if not allowed(activation.site):
        raise PermissionDenied
    if activation.effective_from > timezone.now():
        raise ValidationError(not_yet)
    if SiteAcknowledgement.objects.filter(activation=activation).exists():
        raise ValidationError(already)
    return activation


@transaction.atomic
def acknowledgement_create(*, actor, activation: SiteActivation) -> SiteAcknowledgement:
    """The site's staff acknowledge an effective amendment (who and when are the record)."""
    activation = _effective_unacknowledged(
        activation, allowed=lambda site: permissions.can_acknowledge(actor, site),
        not_yet=_("This version is not effective at your site yet."),
        already=_("Your site has already acknowledged this version."))
    acknowledgement = SiteAcknowledgement.objects.create(activation=activation, acknowledged_by=actor)
    audit.record(actor=actor, action="acknowledgement.created", obj=acknowledgement,
                 changes={"version": [None, str(activation.version)], "site": [None, activation.site.code]})
    return acknowledgement


@transaction.atomic
def reminder_send(*, actor, activation: SiteActivation) -> ActivationNotice:
    """The sponsor reminds a site that has not acknowledged an effective version."""
    activation = _effective_unacknowledged(
        activation, allowed=lambda site: permissions.can_manage_site(actor, site),
        not_yet=_("This version is not effective at that site yet."),
        already=_("That site has already acknowledged this version."))
    staff = site_staff(site=activation.site)
    if not staff:
        raise ValidationError(_("Nobody at that site has an e-mail address."))
    recipients = _mail(activation=activation, kind=ActivationNotice.Kind.REMINDER, users=staff)
    notice = ActivationNotice.objects.create(activation=activation, kind=ActivationNotice.Kind.REMINDER,
                                             sent_by=actor, recipients=recipients)
    audit.record(actor=actor, action="activation.reminded", obj=activation,
                 changes={"recipients": [None, recipients]})
    return notice
