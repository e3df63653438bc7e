"""What every page of a trial's subtree shares in the Wagtail admin: its page actions are decided by the one
permissions authority (`regulatory.permissions.page_action_refusal`), a frozen version opens read-only, and a
version number is unique per trial (and, for consent forms, per kind and language).

The decisions themselves live in `regulatory/permissions/` (`policies`); this module only plugs them into Wagtail's page
model (`permissions_for_user`, `get_lock`) so that the admin hides what is refused everywhere it lists actions.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminPageForm
from wagtail.admin.panels import FieldPanel, TitleFieldPanel
from wagtail.locks import BaseLock

# The title fills the slug as it is typed (TitleFieldPanel), and the slug sits right below it on the content tab, so
# an error on either shows on the tab the editor is looking at (there is no "Promote" tab on these pages).
TITLE_PANELS = [TitleFieldPanel("title"), FieldPanel("slug")]


class TrialPageForm(WagtailAdminPageForm):
    """The editor of a trial's pages: a slug left empty is made from the title on the server too (the title panel
    fills it as it is typed, but a page must publish as typed even without that script)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "slug" in self.fields:
            self.fields["slug"].required = False

    def clean(self):
        if "slug" in self.fields and not self.cleaned_data.get("slug") and self.cleaned_data.get("title"):
            slug = slugify(self.cleaned_data["title"], allow_unicode=getattr(settings, "WAGTAIL_ALLOW_UNICODE_SLUGS",
                                                                               True))[:255].strip("-")
            if slug:
                self.cleaned_data["slug"] = slug
            else:
                self.add_error("slug", _("Type a slug: the title gives none."))
        return super().clean()


class VersionPageForm(TrialPageForm):
    """The editor of a version: the model's checks (a number used once per trial) know the trial before the new
    page is in the tree, so a duplicate number is an error on its field, never a database error."""

    def clean(self):
        cleaned = super().clean()
        if self.instance.trial_id is None:
            self.instance.trial_id = trial_id_of(self.instance, parent=self.parent_page)
        return cleaned


class TrialPageRules:
    """Mixin of every page type that lives in a trial's subtree (the trial page included)."""

    content_panels = TITLE_PANELS
    promote_panels: list = []
    base_form_class = TrialPageForm

    def permissions_for_user(self, user):
        from regulatory.permissions import TrialPagePermissionTester

        return TrialPagePermissionTester(user, self)


class FrozenVersionLock(BaseLock):
    """An approved version (published once: approved, in force, superseded or withdrawn) is frozen for everyone:
    Wagtail shows its editor read-only and saves nothing from it."""

    def for_user(self, user):
        return True

    def get_message(self, user):
        return _("This version has been approved and is frozen: its editor is read-only. A change is a new version; "
                 "withdrawal, with its reason, is the only way it leaves force.")

    def get_locked_by(self, user):
        return _("Frozen (approved version)")

    def get_description(self, user):
        return _("No one can change an approved version.")


class FrozenVersionRules(TrialPageRules):
    """Mixin of the version pages (protocol and consent form)."""

    @property
    def is_frozen(self) -> bool:
        return self.pk is not None and self.first_published_at is not None

    def get_lock(self):
        if self.is_frozen:
            return FrozenVersionLock(self)
        return super().get_lock()


def trial_id_of(page=None, *, parent=None) -> int | None:
    """The trial a page (saved in the tree) or a page about to be added under `parent` belongs to."""
    from .trials import TrialPage

    anchor = page if page is not None and page.path else parent
    if anchor is None or not anchor.path:
        return None
    return TrialPage.objects.ancestor_of(anchor, inclusive=True).values_list("pk", flat=True).first()


def version_key(number: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in number.split("."))
    except (AttributeError, ValueError):
        return None


def clashing_version(model, *, trial_id: int | None, number: str, exclude_pk=None, **same):
    """Another version of `model` of the same trial (and the same `same` fields: kind, language) whose number is
    `number` ("2.0" and "02.0" being one number), or None."""
    key = version_key(number)
    if trial_id is None or key is None:
        return None
    others = model.objects.filter(trial_id=trial_id, **same).exclude(pk=exclude_pk)
    return next((other for other in others if version_key(other.version_number) == key), None)


def version_clash_error(clash) -> ValidationError:
    return ValidationError({"version_number": _(
        "%(version)s already exists in this trial: each version number is used once. Choose another number.")
        % {"version": clash}}, code="duplicate_version")
