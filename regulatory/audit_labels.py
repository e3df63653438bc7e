"""What an audit entry's action code means, in words (the viewer's "Action" column; the CSV keeps the code).

The project's own codes are listed here; Wagtail's (`wagtail.publish`, `wagtail.workflow.approve`…) read as
Wagtail's own registry names them; a code neither knows reads as it is, so nothing is ever hidden.
"""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

ACTIONS = {
    "account.changed": _("Account changed"),
    "account.created": _("Account created"),
    "acknowledgement.created": _("Amendment acknowledged by the site"),
    "activation.created": _("Amendment made effective at a site"),
    "activation.notified": _("Site told of an amendment"),
    "activation.reminded": _("Site reminded of an amendment"),
    "api.read": _("FHIR API read"),
    "api.refused": _("FHIR API call refused"),
    "api_token.issued": _("API token issued"),
    "api_token.revoked": _("API token revoked"),
    "approval.refused": _("Approval refused"),
    "approval.signed": _("Approval signed"),
    "approval.signing_throttled": _("Approval signature refused (too many password failures)"),
    "auth.login": _("Logged in"),
    "auth.login_failed": _("Failed login"),
    "auth.login_throttled": _("Login refused (too many failures)"),
    "auth.logout": _("Logged out"),
    "auth.password_changed": _("Password changed"),
    "collection.created": _("Document collection created"),
    "consent.recorded": _("Consent recorded"),
    "consent.countersigned": _("Consent countersigned by the investigator (new signed revision of the PDF)"),
    "consent.countersignature_declined": _("Countersignature of a consent declined by the investigator"),
    "consent.signing_throttled": _("Consent signature refused (too many password failures)"),
    "consentform.change_judged": _("Change of a consent form judged (re-consent or inform only)"),
    "consentform.acknowledged": _("Consent form version acknowledged by the site"),
    "consentform.made_effective": _("Consent form made effective at a site"),
    "consentform.notified": _("Site told of a consent form version"),
    "consentform.reminded": _("Site reminded of a consent form version"),
    "consentform.reinstated": _("Consent form reinstated"),
    "consentform.superseded": _("Consent form superseded at a site"),
    "consentform.withdrawn": _("Consent form withdrawn"),
    "fhir.exported": _("Consent records exported as FHIR"),
    "delegation.signed": _("Delegation signed by the principal investigator"),
    "delegation.acknowledged": _("Delegation acknowledged by the staff member"),
    "delegation.printed": _("Delegation log printed and signed"),
    "delegation.signing_throttled": _("Delegation signature refused (too many password failures)"),
    "isf.exported": _("Investigator site file exported"),
    "consentformindex.created": _("Consent forms page created"),
    "consentformindex.published": _("Consent forms page published"),
    "consentformversion.created": _("Consent form version created"),
    "consentformversion.changed": _("Consent form version changed"),
    "consentformversion.published": _("Consent form version published"),
    "correspondenceindex.published": _("Correspondence page published"),
    "correspondenceindexpage.created": _("Correspondence page created"),
    "correspondenceitem.created": _("Letter filed"),
    "correspondenceitem.published": _("Letter published"),
    "inspection.download": _("Inspector downloaded a file"),
    "inspection.view": _("Inspector opened a page"),
    "inspection.window_granted": _("Inspection access granted"),
    "inspection.window_revoked": _("Inspection access revoked"),
    "inspection.write_refused": _("Inspector's change refused"),
    "participant.created": _("Participant registered"),
    "remote_consent.invited": _("Remote consent: invitation sent to a relative"),
    "remote_consent.cancelled": _("Remote consent: invitation cancelled"),
    "remote_consent.code_verified": _("Remote consent: one-time code verified"),
    "remote_consent.code_wrong": _("Remote consent: wrong one-time code"),
    "remote_consent.signed": _("Remote consent: signed by the relative"),
    "remote_consent.countersigned": _("Remote consent: countersigned by the investigator"),
    "remote_consent.email_erased": _("Remote consent: relative's e-mail address erased"),
    "participant.deceased": _("Death recorded"),
    "participant.informed": _("Participant informed of a new form version"),
    "participant.withdrawn": _("Withdrawal recorded"),
    "permission.granted": _("Permission granted"),
    "protocol.published": _("Protocol page published"),
    "protocolpage.created": _("Protocol page created"),
    "protocolversion.created": _("Protocol version created"),
    "protocolversion.published": _("Protocol version published"),
    "role.granted": _("Role granted"),
    "role.revoked": _("Role revoked"),
    "signedmaster.created": _("Signed master of a form printed"),
    "site.changed": _("Site changed"),
    "site.created": _("Site created"),
    "submission.created": _("Submission created"),
    "submission.published": _("Submission published"),
    "tmf.document_filed": _("Document filed in the TMF"),
    "storage.media_migrated": _("Stored files copied to the object store"),
    "storage.orphans_swept": _("Orphan stored files removed"),
    "storage.restored": _("Installation restored from a backup"),
    "tmf.document_imported": _("Document imported into the TMF"),
    "tmf.document_superseded": _("TMF document superseded"),
    "tmf.expectations_changed": _("Expected TMF documents changed"),
    "tmf.export_done": _("TMF export ready"),
    "archival.completed": _("Archival proof completed (timestamp and validation data added)"),
    "archival.completion_failed": _("Archival proof not completed yet (will be retried)"),
    "archival.renewed": _("Archive timestamp renewed"),
    "archival.renewal_failed": _("Archive timestamp renewal failed"),
    "archive.fixity_requested": _("Fixity check requested"),
    "archive.fixity_done": _("Fixity check done"),
    "archive.fixity_failed": _("Fixity check failed"),
    "archive.fixity_report_downloaded": _("Fixity report downloaded"),
    "tmf.export_failed": _("TMF export failed"),
    "tmf.export_requested": _("TMF export requested"),
    "tmf.export_retried": _("TMF export retried"),
    "tmf.index_exported": _("TMF index exported"),
    "tmf.package_downloaded": _("TMF package downloaded"),
    "tmf.package_exported": _("TMF package exported"),
    "tmf.package_imported": _("TMF package imported"),
    "tmf.qc_approved": _("TMF document approved at QC"),
    "tmf.qc_rejected": _("TMF document rejected at QC (QC issue raised)"),
    "tmf.qc_issue_closed": _("QC issue closed by a new version"),
    "tmf.settings_changed": _("TMF settings changed"),
    "tmf.milestone_saved": _("Trial milestone saved"),
    "trial.changed": _("Trial changed"),
    "trial.created": _("Trial created"),
    "trial.published": _("Trial published"),
    "workflow.created": _("Review workflow created"),
}
# Edits of a trial's pages are recorded as "<page kind>.<verb>" (`services.page_revision_audit`): those not listed
# above read as the verb and the page kind.
PAGE_KINDS = {
    "trial": pgettext_lazy("audit page kind", "trial"),
    "protocol": pgettext_lazy("audit page kind", "protocol page"),
    "protocolversion": pgettext_lazy("audit page kind", "protocol version"),
    "correspondenceindex": pgettext_lazy("audit page kind", "correspondence page"),
    "submission": pgettext_lazy("audit page kind", "submission"),
    "correspondenceitem": pgettext_lazy("audit page kind", "letter"),
    "consentformindex": pgettext_lazy("audit page kind", "consent forms page"),
    "consentformversion": pgettext_lazy("audit page kind", "consent form version"),
}
PAGE_VERBS = {
    "created": _("Created: %(what)s"), "changed": _("Changed: %(what)s"), "published": _("Published: %(what)s"),
    "scheduled": _("Publication scheduled: %(what)s"),
}
WAGTAIL_PREFIX = "wagtail."


def action_label(code: str) -> str:
    """The action in words, in the active language; Wagtail's in its words ("Administration : Publier")."""
    if code in ACTIONS:
        return str(ACTIONS[code])
    kind, _dot, verb = code.partition(".")
    if kind in PAGE_KINDS and verb in PAGE_VERBS:
        return str(PAGE_VERBS[verb] % {"what": PAGE_KINDS[kind]})
    if code.startswith(WAGTAIL_PREFIX):
        from wagtail.log_actions import registry

        registry.scan_for_actions()  # once: the registry keeps what it found
        if registry.action_exists(code):
            return str(_("Administration: %(action)s") % {"action": registry.get_action_label(code)})
    return code
