from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class RegulatoryConfig(AppConfig):
    name = "regulatory"
    verbose_name = _("Regulatory")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from cms.models import HOME_CONTEXT

        from . import audit_mirror, checks, folding, receivers  # noqa: F401  (system checks, receivers)
        from .tmf import sources as tmf_sources

        tmf_sources.register()
        post_migrate.connect(_trial_role_groups, sender=self, dispatch_uid="trialdocs_trial_role_groups")
        folding.connect()
        if home_context not in HOME_CONTEXT:
            HOME_CONTEXT.append(home_context)


def home_context(request) -> dict:
    """The home page's dashboard: the user's trials, sites and what they can do there."""
    from .selectors import dashboard

    return {"dashboard": dashboard(user=request.user)}


def _trial_role_groups(sender, **kwargs):
    """After a migrate: trials set up before a trial role existed get its group (`ensure_trial_role_groups`)."""
    from django.db import DatabaseError

    from .services.trials import ensure_trial_role_groups

    plan = kwargs.get("plan") or []
    if not plan or any(backwards for _migration, backwards in plan):
        return  # nothing migrated (a flush), or migrated back: the current models may not fit the tables
    try:
        ensure_trial_role_groups()
    except DatabaseError:  # a database the current models do not fit yet (another app behind)
        return
