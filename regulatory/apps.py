from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegulatoryConfig(AppConfig):
    name = "regulatory"
    verbose_name = _("Regulatory")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import audit_mirror, checks, receivers  # noqa: F401  (registers system checks and receivers)
