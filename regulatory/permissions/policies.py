"""The Wagtail admin's questions, answered by the rules: the permission policy of investigational sites, and the
product's rules on Wagtail's own page actions (`page_action_refusal`, `TrialPagePermissionTester`).
"""

from functools import cached_property

from django.utils.translation import gettext_lazy as _
from wagtail.models import PagePermissionTester
from wagtail.permission_policies import ModelPermissionPolicy

from ..models import InvestigationalSite, TrialPage
from .queries import sites_accessible, sites_managed
from .rules import can_access_site, can_add_site, can_manage_site, can_manage_trial


class InvestigationalSitePolicy(ModelPermissionPolicy):
    """Wagtail admin permission policy for investigational sites, scoped by `regulatory.permissions`: "add" for
    whoever manages a trial, "change" the sites of the trials one manages, "view" the sites one reads.

    Sites are never deleted (their records must stay), so "delete" is refused to everyone.
    """

    def user_has_permission(self, user, action):
        if action == "add":
            return can_add_site(user)
        if action == "change":
            return sites_managed(user).exists()
        if action == "view":
            return sites_accessible(user).exists()
        return False

    def user_has_any_permission(self, user, actions):
        return any(self.user_has_permission(user, action) for action in actions)

    def user_has_permission_for_instance(self, user, action, instance):
        if action == "change":
            return can_manage_site(user, instance)
        if action == "view":
            return can_access_site(user, instance)
        return False

    def instances_user_has_any_permission_for(self, user, actions):
        # Whoever may change a site may also view it (the sponsor's role holds access_trial with manage_trial;
        # administrators read everything), so "view" is the wider of the two.
        if "view" in actions:
            return sites_accessible(user)
        if "change" in actions:
            return sites_managed(user)
        return InvestigationalSite.objects.none()


# --- Wagtail's page actions on a trial's pages ------------------------------------------------------------------
#
# Wagtail's own page actions obey the product's rules. `page_action_refusal` is the decision; the page tester below
# hides copy (aliases are made by copying), move, delete, unpublish, privacy, lock and unlock wherever the admin
# offers them (action menu, header and listing buttons, bulk actions) when it refuses them, the hooks of
# `regulatory.wagtail_hooks` hide the cancel-workflow action, and `regulatory.middleware.PageActionGuardMiddleware`
# and those hooks refuse any refused action on a direct request with its message, before anything is written.
# Wagtail's own group page permissions (the sponsor's `roles.SPONSOR_PAGE_PERMISSIONS` on their trial) still apply on
# top: this can only refuse more.
#
#   action            trial, protocol, consent forms,        draft version           approved (frozen) version
#                     correspondence pages
#   copy, alias,      refused to everyone                    refused to everyone     refused to everyone
#   translation copy
#   move, delete,     refused to everyone                    refused to everyone     refused to everyone
#   unpublish,
#   privacy
#   revert, lock,     the trial's sponsor, administrators    sponsor, administrators refused (read-only editor)
#   unlock
#   cancel workflow   —                                      sponsor, administrators —
#
# QA, site staff and inspectors never do any of these (site staff and inspectors have no way into the admin; QA
# approves or rejects a version in its review task, and nothing else).

PAGE_ACTIONS = ("copy", "alias", "translate", "move", "delete", "unpublish", "privacy", "revert", "lock", "unlock",
                "cancel_workflow")
ALWAYS_REFUSED = {
    "copy": _("Pages of a trial are not copied: a copy would make a second version with the same number outside "
              "the review workflow. Add a new version (or import a Word form) instead."),
    "alias": _("Pages of a trial have no aliases: each version is one page, reviewed and approved once."),
    "translate": _("A version in another language is a version of its own: add it, it goes through review."),
    "move": _("Pages of a trial stay where they are: a version belongs to its trial's protocol or consent forms."),
    "delete": _("Trials and their documents are never deleted: change the trial's status, or withdraw a version "
                "with its reason."),
    "unpublish": _("Nothing approved disappears: withdraw a version, with its reason, from its page; a trial "
                   "takes the status Terminated or Withdrawn."),
    "privacy": _("Who reads a trial's pages is decided by the roles, not by page privacy settings."),
}
SPONSOR_ONLY = _("Only the trial's sponsor or an administrator may do this.")
FROZEN = _("This version has been approved and is frozen: a change is a new version.")


def _trial_of_page(page):
    """The trial the page is, or lies under, or None."""
    return TrialPage.objects.ancestor_of(page, inclusive=True).first()


def holds_a_trial(page) -> bool:
    """The page is a trial, lies under one, or has one below it (the home page)."""
    return (TrialPage.objects.ancestor_of(page, inclusive=True).exists()
            or page.get_descendants().type(TrialPage).exists())


_UNKNOWN = object()


def page_action_refusal(user, page, action: str, *, trial=_UNKNOWN):
    """Why `user` may not do the Wagtail page `action` on `page` (a message), or None when the product's rules
    allow it (Wagtail's own page permissions then decide as usual). Pages outside every trial are left to Wagtail,
    but for what would carry a trial with them (deleting, moving or unpublishing a page above the trials). `trial`:
    the page's trial (or None) when the caller knows it already."""
    if action not in PAGE_ACTIONS:
        raise ValueError(f"unknown page action {action!r}")
    if trial is _UNKNOWN:
        trial = _trial_of_page(page)
    if trial is None:
        if action in ("delete", "move", "unpublish") and holds_a_trial(page):
            return ALWAYS_REFUSED[action]
        return None
    if action in ALWAYS_REFUSED:
        return ALWAYS_REFUSED[action]
    specific = page.specific_deferred
    if getattr(specific, "is_frozen", False) and action in ("revert", "lock", "unlock"):
        return FROZEN
    if not can_manage_trial(user, trial):
        return SPONSOR_ONLY
    return None


def page_action_allowed(user, page, action: str) -> bool:
    return page_action_refusal(user, page, action) is None


class TrialPagePermissionTester(PagePermissionTester):
    """Wagtail's page permission tester for a trial's pages (`regulatory.models.pagerules.TrialPageRules`): copy,
    move, delete, unpublish, privacy, lock and unlock that `page_action_refusal` refuses (or asked by a deactivated
    account) are refused here too, so the admin does not offer them; Wagtail's own answer then applies."""

    @cached_property
    def _trial(self):
        return _trial_of_page(self.page)  # once per tester: a listing asks several actions of each row

    def _allowed(self, action: str) -> bool:
        return self.user.is_active and page_action_refusal(self.user, self.page, action, trial=self._trial) is None

    def can_copy(self):
        return self._allowed("copy") and super().can_copy()

    def can_copy_to(self, destination, recursive=False):
        return self._allowed("copy") and super().can_copy_to(destination, recursive=recursive)

    def can_move(self):
        return self._allowed("move") and super().can_move()

    def can_move_to(self, destination):
        return self._allowed("move") and super().can_move_to(destination)

    def can_delete(self, ignore_bulk=False):
        return self._allowed("delete") and super().can_delete(ignore_bulk=ignore_bulk)

    def can_unpublish(self):
        return self._allowed("unpublish") and super().can_unpublish()

    def can_set_view_restrictions(self):
        return self._allowed("privacy") and super().can_set_view_restrictions()

    def can_lock(self):
        return self._allowed("lock") and super().can_lock()

    def can_unlock(self):
        return self._allowed("unlock") and super().can_unlock()
