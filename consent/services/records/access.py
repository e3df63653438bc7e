"""Who may record what, as the permissions authority (`regulatory.permissions`) and the accounts
(`regulatory.accounts`) decide: the questions the records modules ask, and the role printed on a record."""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from regulatory import accounts, permissions
from regulatory.models import InvestigationalSite, Role


def _check_delegation(actor, site: InvestigationalSite, task: str, at=None) -> None:
    """Site staff only (else PermissionDenied: the page is not theirs), and only what the delegation log gives them
    on that day (else a ValidationError saying why: `permissions.delegation_refusal`)."""
    if not permissions.is_site_staff(actor, site):
        raise PermissionDenied
    refusal = permissions.delegation_refusal(actor, site, task, at)
    if refusal is not None:
        raise ValidationError(refusal)


def is_site_investigator(user, site: InvestigationalSite, at=None) -> bool:
    """Whether the user may attest an emergency inclusion at this site: an investigator of the site delegated the
    attestation, as the permissions authority decides (`permissions.can_attest_emergency_inclusion`)."""
    return permissions.can_attest_emergency_inclusion(user, site, at)


def emergency_refusal_message(site: InvestigationalSite, user=None, at=None) -> str:
    return permissions.emergency_refusal(user, site, at) or ""


def signing_suspended(user) -> bool:
    """See `regulatory.accounts.signing_suspended` (shared with the approval of versions)."""
    return accounts.signing_suspended(user)


def _signature_components_match(actor, username: str, password: str) -> bool:
    """Both components belong to the logged-in account (`regulatory.accounts.signature_components_match`)."""
    return accounts.signature_components_match(actor, username, password, what="signing")


def _role_label(user, site) -> str:
    """The role printed on the record, in the site's main language whatever the language of the screen: investigator
    for a member of the site's investigator role group (`permissions.site_investigators`), else coordinator."""
    investigator = permissions.site_investigators(site).filter(pk=user.pk).exists()
    with translation.override(settings.LANGUAGE_CODE):
        return str(Role.INVESTIGATOR.label) if investigator else str(Role.COORDINATOR.label)
