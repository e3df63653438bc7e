from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = _("Informed consent")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from cms.models import HOME_CONTEXT
        from regulatory import audit
        from regulatory import views as regulatory_views
        from regulatory.management.commands.notify_effective_amendments import DUE_NOTICES
        from regulatory.models import TrialPage
        from regulatory.services.trials import SETUP_STEPS

        from . import demo, tmf_sources, urls
        from .models import ConsentRecord, FormAcknowledgement, Participant, SignedMaster
        from .services import trial_consent_setup

        if trial_consent_setup not in SETUP_STEPS:
            SETUP_STEPS.append(trial_consent_setup)
        tmf_sources.register()  # approved form versions are filed in the TMF
        demo.register_steps()  # `manage.py load_demo`: the forms, where they are in force, participants
        TrialPage.add_routes(urls.trial_page_urlpatterns)  # printing, participants, records under the trial's URL
        # The audit viewer hides these from a reader of some sites only (an inspection window on some sites).
        audit.register_site_owned("consent.participant", lambda sites: Participant.objects.filter(site__in=sites))
        audit.register_site_owned("consent.consentrecord",
                                  lambda sites: ConsentRecord.objects.filter(participant__site__in=sites))
        audit.register_site_owned("consent.signedmaster", lambda sites: SignedMaster.objects.filter(site__in=sites))
        audit.register_site_owned("consent.formacknowledgement",
                                  lambda sites: FormAcknowledgement.objects.filter(effectivity__site__in=sites))
        # Telling the sites about consent-form versions as about amendments: the home page's banner, the site's
        # page (acknowledge) and the sponsor's matrix (versions × sites, reminders).
        if home_context not in HOME_CONTEXT:
            HOME_CONTEXT.append(home_context)
        for registry, entry in ((regulatory_views.SITE_SECTIONS, SITE_SECTION),
                                (regulatory_views.MATRIX_SECTIONS, MATRIX_SECTION), (DUE_NOTICES, DUE_NOTICE)):
            if entry not in registry:
                registry.append(entry)


def home_context(request) -> dict:
    from .selectors import pending_form_acknowledgements

    return {"forms_to_acknowledge": pending_form_acknowledgements(user=request.user)}


def _site_section(request, site) -> dict:
    from .selectors import form_acknowledgements_of_site

    return {"periods": form_acknowledgements_of_site(site=site)}


def _matrix_section(request, trial) -> dict:
    from .selectors import form_acknowledgement_matrix

    sites, rows = form_acknowledgement_matrix(trial=trial, user=request.user)
    return {"sites": sites, "rows": rows}


SITE_SECTION = ("consent/_site_form_acknowledgements.html", _site_section)
MATRIX_SECTION = ("consent/_form_acknowledgement_matrix.html", _matrix_section)


def _forms_notify_due() -> int:
    from .services import form_effectivities_notify_due

    return form_effectivities_notify_due()


DUE_NOTICE = ("consent-form", _forms_notify_due)
