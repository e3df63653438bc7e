"""Telling the sites that a consent-form version is in force there, as for protocol amendments: an e-mail to the
site's staff when it takes effect, a banner on their home page until the site acknowledges it, reminders from the
sponsor, and the sponsor's versions × sites matrix (`consent.selectors.form_acknowledgement_matrix`)."""

import logging
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from cms.public import public_url
from regulatory import audit, permissions
from regulatory.mail import send_formal
from regulatory.selectors import site_staff

from ..models import FormAcknowledgement, FormEffectivity, FormNotice

logger = logging.getLogger(__name__)


def _mail(*, period: FormEffectivity, kind: str, users: list) -> list[str]:
    version, site = period.version, period.site
    trial = site.trial

    def subject():
        prefix = _("Reminder: ") if kind == FormNotice.Kind.REMINDER else ""
        return _("%(prefix)s[%(nct)s] New consent form in force at %(site)s: %(version)s — please acknowledge") % {
            "prefix": prefix, "nct": trial.nct_number, "version": version, "site": site.code}

    def paragraphs():
        site_url = trial.get_url() + trial.reverse_subpage("site_detail", args=[site.code.lower()])
        return [
            _("%(version)s (version of %(date)s) is the consent form in force at %(site)s since %(since)s: from "
              "then on, only this version may be used to obtain consent, and participants who signed an earlier "
              "version are on your site's to-do list for re-consent.") % {
                "version": version, "date": date_format(version.version_date, "DATE_FORMAT"), "site": site.name,
                "since": date_format(timezone.localtime(period.effective_from), "DATETIME_FORMAT")},
            _("Print it from your site's current forms: %(url)s") % {
                "url": public_url(reverse("current_forms", args=[trial.slug, site.code.lower()]))},
            _("Please acknowledge it on your site's page: %(url)s") % {"url": public_url(site_url)},
        ]

    return send_formal(users=users, subject=subject, paragraphs=paragraphs)


def form_effectivity_notify(*, period_id: int) -> bool:
    """E-mail the site's staff that the version is in force there; once. False when already done, not yet in
    force, or when the e-mail could not be sent (retried by `form_effectivities_notify_due`)."""
    with transaction.atomic():
        period = (FormEffectivity.objects.select_for_update(of=("self",)).select_related("version", "site__trial")
                  .filter(pk=period_id).first())
        if period is None or period.notified_at is not None or period.effective_from > timezone.now():
            return False
        try:
            recipients = _mail(period=period, kind=FormNotice.Kind.NOTICE, users=site_staff(site=period.site))
        except OSError:
            logger.exception("Could not e-mail the notice of consent-form period %s; it will be retried", period.pk)
            return False
        FormNotice.objects.create(effectivity=period, kind=FormNotice.Kind.NOTICE, recipients=recipients)
        period.notified_at = timezone.now()
        period.save(update_fields=["notified_at"])
        audit.record(actor=None, action="consentform.notified", obj=period.version,
                     changes={"site": [None, period.site.code], "recipients": [None, recipients]})
    return True


def form_effectivities_notify_due(*, now: datetime | None = None) -> int:
    """Notify every period whose start has come and that was not notified yet (run by cron)."""
    now = now or timezone.now()
    due = FormEffectivity.objects.filter(notified_at__isnull=True, effective_from__lte=now).values_list("pk",
                                                                                                       flat=True)
    return sum(form_effectivity_notify(period_id=pk) for pk in list(due))


def _in_force_unacknowledged(period: FormEffectivity, *, allowed, not_yet: str, already: str) -> FormEffectivity:
    period = (FormEffectivity.objects.select_for_update(of=("self",)).select_related("site__trial", "version")
              .get(pk=period.pk))
    if not allowed(period.site):
        raise PermissionDenied
    if period.effective_from > timezone.now():
        raise ValidationError(not_yet)
    if FormAcknowledgement.objects.filter(effectivity=period).exists():
        raise ValidationError(already)
    return period


@transaction.atomic
def form_acknowledgement_create(*, actor, period: FormEffectivity) -> FormAcknowledgement:
    """The site's staff acknowledge a consent-form version in force at their site (who and when are the record)."""
    period = _in_force_unacknowledged(
        period, allowed=lambda site: permissions.can_acknowledge(actor, site),
        not_yet=_("This consent form is not in force at your site yet."),
        already=_("Your site has already acknowledged this consent form."))
    acknowledgement = FormAcknowledgement.objects.create(effectivity=period, acknowledged_by=actor)
    audit.record(actor=actor, action="consentform.acknowledged", obj=acknowledgement,
                 changes={"version": [None, str(period.version)], "site": [None, period.site.code]})
    return acknowledgement


@transaction.atomic
def form_reminder_send(*, actor, period: FormEffectivity) -> FormNotice:
    """The sponsor reminds a site that has not acknowledged a consent-form version in force there."""
    period = _in_force_unacknowledged(
        period, allowed=lambda site: permissions.can_manage_site(actor, site),
        not_yet=_("This consent form is not in force at that site yet."),
        already=_("That site has already acknowledged this consent form."))
    staff = site_staff(site=period.site)
    if not staff:
        raise ValidationError(_("Nobody at that site has an e-mail address."))
    recipients = _mail(period=period, kind=FormNotice.Kind.REMINDER, users=staff)
    notice = FormNotice.objects.create(effectivity=period, kind=FormNotice.Kind.REMINDER, sent_by=actor,
                                       recipients=recipients)
    audit.record(actor=actor, action="consentform.reminded", obj=period.version,
                 changes={"site": [None, period.site.code], "recipients": [None, recipients]})
    return notice
