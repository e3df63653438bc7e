"""The resource types the API serves (`TYPES`): for each, the records a token reads, the search parameters it takes
and the condition each value makes, how an id finds one record, and the resource a record becomes (`mapping`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import Q
from django.utils.translation import gettext as _

from regulatory.models import ApiToken, InvestigationalSite

from ..models import ConsentRecord
from . import export, mapping
from .outcomes import Refusal
from .search import _date_q, _tokens

RESOURCE_TYPES = ("Consent", "ResearchSubject", "ResearchStudy", "Organization")
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
NCT = r"NCT\d{8}"
CODE = r"[A-Z]{2,6}-\d{1,6}"
ID_PATTERNS = {
    "Consent": re.compile(rf"^({NCT})-({CODE})-(\d{{1,9}})$"),
    "ResearchSubject": re.compile(rf"^({NCT})-({CODE})$"),
    "ResearchStudy": re.compile(rf"^({NCT})$"),
    "Organization": re.compile(rf"^({NCT})-([A-Z]{{2,6}})$"),
}


@dataclass
class Context:
    version: str
    token: ApiToken
    scope: export.Scope
    base: str  # absolute URL of /fhir/{version}

    @property
    def nct(self) -> str:
        return self.scope.nct


class ConsentType:
    name = "Consent"
    params = ("_id", "subject:identifier", "patient:identifier", "status", "date", "study")

    @staticmethod
    def queryset(ctx: Context):
        return ctx.scope.consents()

    @staticmethod
    def by_id(match) -> Q:
        return Q(participant__code=match.group(2), sequence=int(match.group(3)))

    @classmethod
    def filter(cls, ctx: Context, name: str, value: str) -> Q:
        if name == "_id":
            return _ids(ctx, value, cls.name, cls.by_id)
        if name in ("subject:identifier", "patient:identifier"):
            return _participant_codes(ctx, value, "participant__code")
        if name == "status":
            wanted = {code for _system, code in _tokens(value)}
            unknown = wanted - set(mapping.CONSENT_STATUSES)
            if unknown:
                raise Refusal(400, "code-invalid", _("status: %(value)s is not one of %(known)s.")
                              % {"value": ", ".join(sorted(unknown))[:60],
                                 "known": ", ".join(mapping.CONSENT_STATUSES)})
            q = Q(pk__in=[])
            consented = Q(outcome=ConsentRecord.Outcome.CONSENTED)
            if "active" in wanted:  # as mapping.consent_status: a refusal stays active
                q |= Q(outcome=ConsentRecord.Outcome.REFUSED) | consented & ~Q(participant__status__in=mapping.ENDED)
            if "inactive" in wanted:
                q |= consented & Q(participant__status__in=mapping.ENDED)
            if "draft" in wanted:
                q |= Q(outcome=ConsentRecord.Outcome.PENDING)
            if wanted & {"not-done", "rejected"}:
                q |= Q(outcome=ConsentRecord.Outcome.DECLINED)
            return q
        if name == "date":
            return _date_q("signed_at", value)
        return _study(ctx, value)

    @staticmethod
    def rows(queryset):
        return export.consent_rows(queryset)

    @staticmethod
    def resource(ctx: Context, record) -> tuple[str, dict]:
        return mapping.consent_id(record, ctx.nct), mapping.consent(record, nct=ctx.nct, version=ctx.version)


class ResearchSubjectType:
    name = "ResearchSubject"
    params = ("_id", "identifier", "subject:identifier", "patient:identifier", "status", "subject_state", "study")

    @staticmethod
    def queryset(ctx: Context):
        return ctx.scope.participants()

    @staticmethod
    def by_id(match) -> Q:
        return Q(code=match.group(2))

    @classmethod
    def filter(cls, ctx: Context, name: str, value: str) -> Q:
        if name == "_id":
            return _ids(ctx, value, cls.name, cls.by_id)
        if name in ("identifier", "subject:identifier", "patient:identifier"):
            return _participant_codes(ctx, value, "code")
        if name in ("status", "subject_state"):
            wanted = {code for _system, code in _tokens(value)}
            states = set(mapping.SUBJECT_STATES.values())
            known = states | ({"active"} if ctx.version == mapping.R5 and name == "status" else set())
            unknown = wanted - known
            if unknown:
                raise Refusal(400, "code-invalid", _("%(name)s: %(value)s is not one of %(known)s.")
                              % {"name": name, "value": ", ".join(sorted(unknown))[:60],
                                 "known": ", ".join(sorted(known))})
            if "active" in wanted and name == "status" and ctx.version == mapping.R5:
                return Q()
            return Q(status__in=[status for status, state in mapping.SUBJECT_STATES.items() if state in wanted])
        return _study(ctx, value)

    @staticmethod
    def rows(queryset):
        return export.subject_rows(queryset)

    @staticmethod
    def resource(ctx: Context, participant) -> tuple[str, dict]:
        return mapping.subject_id(participant, ctx.nct), mapping.research_subject(
            participant, list(participant.consents.all()), nct=ctx.nct, version=ctx.version)


class OrganizationType:
    name = "Organization"
    params = ("_id", "identifier")

    @staticmethod
    def queryset(ctx: Context):
        return InvestigationalSite.objects.filter(pk__in=ctx.scope.sites.values("pk"))

    @staticmethod
    def by_id(match) -> Q:
        return Q(code=match.group(2))

    @classmethod
    def filter(cls, ctx: Context, name: str, value: str) -> Q:
        if name == "_id":
            return _ids(ctx, value, cls.name, cls.by_id)
        codes = [code.strip().upper() for system, code in _tokens(value)
                 if system in (None, "", mapping.site_system(ctx.nct))]
        return Q(code__in=codes)

    @staticmethod
    def rows(queryset):
        return queryset.order_by("code")

    @staticmethod
    def resource(ctx: Context, site) -> tuple[str, dict]:
        return mapping.organization_id(site, ctx.nct), mapping.organization(site, nct=ctx.nct, version=ctx.version)


class ResearchStudyType:
    """One resource at most: the token's trial (with the sites the token reads)."""

    name = "ResearchStudy"
    params = ("_id", "identifier")

    @staticmethod
    def queryset(ctx: Context):
        from regulatory.models import TrialPage

        return TrialPage.objects.filter(pk=ctx.scope.trial.pk)

    @staticmethod
    def by_id(match) -> Q:
        return Q()

    @classmethod
    def filter(cls, ctx: Context, name: str, value: str) -> Q:
        if name == "_id":
            return _ids(ctx, value, cls.name, cls.by_id)
        q = Q(pk__in=[])
        for system, code in _tokens(value):
            code = code.strip()
            if system in (None, "", mapping.NCT_SYSTEM) and code.upper() == ctx.nct:
                q = Q()
            if system in (None, "", mapping.EU_CT_SYSTEM) and ctx.scope.trial.eu_ct_number \
                    and code == ctx.scope.trial.eu_ct_number:
                q = Q()
        return q

    @staticmethod
    def rows(queryset):
        return queryset

    @staticmethod
    def resource(ctx: Context, trial) -> tuple[str, dict]:
        return mapping.study_id(trial), mapping.research_study(trial, ctx.scope.site_list(), version=ctx.version)


TYPES = {t.name: t for t in (ConsentType, ResearchSubjectType, ResearchStudyType, OrganizationType)}


def _participant_codes(ctx: Context, value: str, field_name: str) -> Q:
    codes = []
    for system, code in _tokens(value):
        if system in (None, "", mapping.participant_system(ctx.nct)):
            codes.append(code.strip().upper())
    return Q(**{f"{field_name}__in": codes})


def _study(ctx: Context, value: str) -> Q:
    for part in value.split(","):
        nct = part.strip().upper().removeprefix("RESEARCHSTUDY/")
        if not re.fullmatch(NCT, nct):
            raise Refusal(400, "invalid", _("study: %(value)r is not ResearchStudy/NCT… or an NCT number.")
                          % {"value": part[:40]})
        if nct != ctx.nct:
            raise Refusal(403, "forbidden", _("This token reads %(nct)s only.") % {"nct": ctx.nct})
    return Q()


def _ids(ctx: Context, value: str, resource_type: str, lookup) -> Q:
    found = Q(pk__in=[])
    for part in value.split(","):
        match = ID_PATTERNS[resource_type].match(part.strip())
        if match and match.group(1) == ctx.nct:
            found |= lookup(match)
    return found
