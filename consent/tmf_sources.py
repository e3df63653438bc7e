"""What consent files in the TMF automatically: every approved consent-form version, as a source of the filing
engine (`regulatory.tmf.filing.FiledSource`), registered from `ConsentConfig.ready`."""

from django.utils import timezone

from regulatory.models import DelegationLogPrint, TmfLevel
from regulatory.tmf import filing
from regulatory.tmf.filing import Filing, Status, joined, stream_text

from . import masters, selectors
from .models import ConsentFormVersionPage


def _in_force(periods, now) -> bool:
    return any(period.in_force_at(now) for period in periods)


def _covers(newer_scope: frozenset | None, scope: frozenset | None) -> bool:
    """Whether a version for `newer_scope` (None: every site) replaces, for the trial, one for `scope`: a version
    for every site replaces any; a site-specific one only versions for some of its own sites."""
    return newer_scope is None or (scope is not None and scope <= newer_scope)


class ConsentFormVersionSource(filing.FiledSource):
    """An approved consent-form version: the form (and its information sheet) at trial level, and the form at each
    site where it has taken effect; superseded by a later version of the same kind and language. Its content is the
    form as printed (`masters.render`)."""

    model = ConsentFormVersionPage
    artifacts = (filing.INFORMED_CONSENT_FORM, filing.SUBJECT_INFORMATION_SHEET)
    refile_on_publish = True
    # Taking effect at a site (or ceasing to) changes the site-level rows.
    refile_on_save = (("consent.FormEffectivity", lambda effectivity: effectivity.version.specific),)

    def objects(self, trial):
        return ConsentFormVersionPage.objects.descendant_of(trial).live().specific()

    def trial_status(self, version, state: str, now) -> str:
        """One version of each document (kind and language, and scope of sites) current for the trial: the newest
        in force at some site. An older one still in force at a site is superseded for the trial (its site-level
        copy stays current there); a newer one approved but in force nowhere yet is "approved, not yet in
        force"."""
        if state == "withdrawn":
            return Status.WITHDRAWN
        if state == "superseded":
            return Status.SUPERSEDED
        siblings = (ConsentFormVersionPage.objects.live().sibling_of(version, inclusive=False)
                    .filter(kind=version.kind, language=version.language, withdrawn_at__isnull=True)
                    .prefetch_related("effectivities", "sites"))
        scope = frozenset(version.sites.values_list("pk", flat=True)) or None
        for other in siblings:
            if other.version_key > version.version_key and _in_force(other.effectivities.all(), now) \
                    and _covers(frozenset(site.pk for site in other.sites.all()) or None, scope):
                return Status.SUPERSEDED
        return Status.CURRENT if state == "effective" else Status.APPROVED

    def filings(self, version):
        state = selectors.status(version)
        if state in ("draft", "submitted"):
            return []  # not approved text: stays in the sponsor's workflow, not in the TMF
        trial_status = self.trial_status(version, state, timezone.now())
        series = f"consent-{version.kind}-{version.language}"
        text = joined(version.title, stream_text(version.information), stream_text(version.consent))
        common = {"title": version.title, "document_date": version.version_date, "version": version.version_number,
                  "series": series, "search_text": text}
        filings = [Filing(artifact=filing.INFORMED_CONSENT_FORM, level=TmfLevel.TRIAL, status=trial_status,
                          **common)]
        if version.information:
            filings.append(Filing(artifact=filing.SUBJECT_INFORMATION_SHEET, level=TmfLevel.TRIAL,
                                  status=trial_status, part="information", **common))
        now = timezone.now()
        periods = {}
        for period in version.effectivities.select_related("site").order_by("effective_from"):
            periods.setdefault(period.site, []).append(period)
        for site, site_periods in periods.items():
            current = _in_force(site_periods, now)
            ended = all(p.effective_until is not None and p.effective_until <= now for p in site_periods)
            site_status = (Status.WITHDRAWN if state == "withdrawn" else Status.CURRENT if current
                           else Status.SUPERSEDED if ended else Status.APPROVED)
            filings.append(Filing(artifact=filing.INFORMED_CONSENT_FORM, level=TmfLevel.SITE, site=site,
                                  country=site.country, status=site_status, **common))
        return filings

    def affected(self, version):
        trial = self.trial_of(version)
        return [version, *ConsentFormVersionPage.objects.descendant_of(trial).live().exclude(pk=version.pk).filter(
            kind=version.kind, language=version.language).specific()]

    def content(self, version, document, base):
        return filing.pdf_content(masters.render([version], site=document.site, trial=document.trial), base)


class DelegationLogSource(filing.FiledSource):
    """A site's delegation log, as signed after each signature on it: at site level on 05.02.18 (Site Signature
    Sheet, "Delegation of Authority Log"); the newest version current, the earlier ones superseded."""

    model = DelegationLogPrint
    artifacts = (filing.SITE_SIGNATURE_SHEET,)
    refile_on_save = (("regulatory.DelegationLogPrint", lambda log: log),)

    def objects(self, trial):
        return DelegationLogPrint.objects.filter(site__trial=trial).select_related("site")

    def trial_of(self, log):
        return log.site.trial

    def filings(self, log):
        site = log.site
        newer = DelegationLogPrint.objects.filter(site=site, number__gt=log.number).exists()
        return [Filing(
            artifact=filing.SITE_SIGNATURE_SHEET, level=TmfLevel.SITE, site=site, country=site.country,
            title=f"Registre de délégation des tâches — {site.code}", document_date=timezone.localdate(log.printed_at),
            version=str(log.number), status=Status.SUPERSEDED if newer else Status.CURRENT,
            series=f"delegation-{site.code}", search_text=joined("délégation delegation", site.code, site.name))]

    def affected(self, log):
        return list(DelegationLogPrint.objects.filter(site=log.site).select_related("site"))

    def content(self, log, document, base):
        return filing.file_content(log.file, base + ".pdf")


def register() -> None:
    filing.register(ConsentFormVersionSource())
    filing.register(DelegationLogSource())
