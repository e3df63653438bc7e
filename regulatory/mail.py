"""E-mails as a hospital writes them: a formal salutation and close, in each recipient's language (the language
chosen in the recipient's account, else the site's default, French), one message per language."""

from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.mail import send_mail
from django.utils import translation
from django.utils.translation import gettext as _


def user_language(user) -> str:
    """The language of the user's account (Wagtail's preference), else the default language."""
    profile = getattr(user, "wagtail_userprofile", None)
    chosen = getattr(profile, "preferred_language", "") if profile is not None else ""
    return chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def by_language(users: Iterable) -> dict[str, list[str]]:
    """E-mail addresses grouped by language, sorted, each address once."""
    groups: dict[str, set[str]] = {}
    for user in users:
        if user.email:
            groups.setdefault(user_language(user), set()).add(user.email)
    return {language: sorted(addresses) for language, addresses in sorted(groups.items())}


def formal(paragraphs: list[str]) -> str:
    """The body between a formal salutation and a formal close, in the active language."""
    return "\n\n".join([_("Dear Sir or Madam,"), *paragraphs, _("Yours faithfully,"),
                        _("TrialDocs, on behalf of the trial's sponsor\n(automatic message, please do not reply)")])


def send_formal(*, users: Iterable, subject: Callable[[], str], paragraphs: Callable[[], list[str]]) -> list[str]:
    """One e-mail per language of the recipients; `subject` and `paragraphs` are evaluated in that language.
    Returns every address written to. Raises OSError as `send_mail` does, for the caller to retry."""
    sent: list[str] = []
    for language, addresses in by_language(users).items():
        with translation.override(language):
            send_mail(subject(), formal(paragraphs()), settings.DEFAULT_FROM_EMAIL, addresses)
        sent.extend(addresses)
    return sorted(sent)
