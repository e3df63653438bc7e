from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = _("Informed consent")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from regulatory.services.trials import SETUP_STEPS

        from .services import trial_consent_setup

        if trial_consent_setup not in SETUP_STEPS:
            SETUP_STEPS.append(trial_consent_setup)
