# ruff: noqa: E501  (the tables below are grids, one column per persona)
"""The permission matrix (issue 7): the status every URL answers to every persona, read from the README's role table
and `regulatory/permissions/`. One row per URL template, one column per persona.

A cell is one status for every object, or a pair `(site A, site B)` when the row names an object of a site
(`{site}`, `{participant}`, `{token}`...): the row is requested once with the DIJ object, once with the LIL one.

Personas (`tests/test_permission_matrix.py` makes them from the `world` fixture of `conftest.py`):
    anon        not logged in
    coord_a     coordinator of site A (DIJ)            inv_a      investigator of site A (DIJ)
    nurse_a     coordinator of site A (DIJ) delegated only "register participants" and "record withdrawals" on the
                delegation log (not "obtain informed consent", not "record deaths": the demo's nurse-dij)
    coord_b     coordinator of site B (LIL)
    sponsor     sponsor of NCT07063680                 qa         sponsor QA of NCT07063680
    insp        inspector, window open on the whole trial
    insp_dij    the same inspector, window open on DIJ only
    insp_after  the same inspector once the window has closed
    other_sp    sponsor of the other trial (NCT01234567, site BOR)
    admin       administrator (superuser)

What the statuses say:
    200 read; 302 sent to a login page (anonymous), or refused by the Wagtail admin (its refusal is a redirect);
    403 refused although the object is visible (inspector's package of a partial window); 404 nothing there for
    that persona (another site, another trial, a trial-wide record for site staff, a window that has closed);
    405 the URL takes POST only, answered to whoever may see the page it hangs under.

Placeholders of site objects: site, site_pk, participant (a participant with a signed consent), fresh (a
participant still in screening; spare, another one), activation (protocol v1.0 at the site), form_period (the
patient form's period in force at the site), token (the consent's short link),
form (a consent form in force at that site: the all-site patient form at DIJ, a LIL-only form at LIL), tmf_doc (a
document filed at the site), staff_pk (the site's coordinator), consent_pdf_path / tmf_upload_path (their files
under MEDIA_ROOT). The other placeholders name trial-level objects (see `build` in the test module).

Choices the table makes (README and `permissions.py` read together):
- Sponsor, QA and inspectors read every site they may see, its participants and their signed consent PDFs (pages
  of pseudonymised codes, no patient name), one by one or all of a site's in one zip; only the site's own staff
  register participants and record consents, never the sponsor, QA, an inspector or an administrator.
- An inspector's window on some sites opens the trial-wide records (correspondence, every consent-form version,
  dashboard, TMF and audit trail of the trial) but only those sites' rows; the whole-TMF package is refused (403).
- The Wagtail admin is for the sponsor, QA and administrators; its refusals are redirects (302), and an object of
  another scope is a 404 (the sites viewset scopes every object). Wagtail's own rules stand where they are
  stricter than the README: QA does not open a site's admin history (it needs "change"; QA reads the same entries
  at /audit/object/...), and a site is never deleted, so the delete view is a 404 to everyone.
- Wagtail's page actions on a trial's pages (issue 12, `permissions.page_action_refusal`): copy, alias, move,
  delete, unpublish and privacy are refused to everyone, administrators included (302 with the reason, nothing
  written: no page, revision, log entry, lock or audit entry); locking and unlocking a draft are the sponsor's and
  the administrator's; an approved version's editor opens (200) read-only, and nobody reverts, locks or unlocks it.
- /admin/consent/import/ opens to QA but offers no trial to import into (the form lists the trials one manages).
  /admin/consent/import/title/ (the title proposed for a chosen file) takes POST only, refused (403) to whoever
  manages no trial.
"""

COLUMNS = ("anon", "coord_a", "nurse_a", "inv_a", "coord_b", "sponsor", "qa", "insp", "insp_dij", "insp_after", "other_sp", "admin")

# Keys whose value differs between the site A and the site B object (see `build` in the test module).
SITE_KEYS = {"site", "site_pk", "delegation_entry", "participant", "inform_task", "fresh", "spare", "form_period", "activation", "token", "form", "tmf_doc",
             "staff_pk", "consent_pdf_path", "tmf_upload_path", "fhir_consent", "fhir_subject", "fhir_org"}

T = "/nct07063680"  # the trial page
TMF = "/tmf/NCT07063680"
A, B = (200, 404), (404, 200)  # read by site A's staff only, by site B's staff only

# fmt: off
MATRIX = [
    # URL template                                                       anon  coord_a  nurse_a  inv_a  coord_b  sponsor  qa    insp  insp_dij  insp_after  other_sp  admin
    # --- Accounts, plumbing ------------------------------------------------------------------------------------------
    ("/healthz",                                                       (200,  200,     200,     200,   200,     200,     200,  200,  200,      200,        200,      200)),
    ("/accounts/login/",                                               (200,  302,     302,     302,   302,     302,     302,  302,  302,      302,        302,      302)),
    ("/accounts/logout/",                                              (405,  405,     405,     405,   405,     405,     405,  405,  405,      405,        405,      405)),
    ("/accounts/password_change/",                                     (302,  200,     200,     200,   200,     200,     200,  200,  200,      200,        200,      200)),
    ("/accounts/password_change/done/",                                (302,  200,     200,     200,   200,     200,     200,  200,  200,      200,        200,      200)),
    ("/i18n/setlang/",                                                 (302,  302,     302,     302,   302,     302,     302,  302,  302,      302,        302,      302)),
    ("/jsi18n/",                                                       (200,  200,     200,     200,   200,     200,     200,  200,  200,      200,        200,      200)),
    ("/_util/login/",                                                  (200,  302,     302,     302,   302,     302,     302,  302,  302,      302,        302,      302)),
    ("/_util/authenticate_with_password/1/{trial_pk}/",                (404,  404,     404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    ("/documents/authenticate_with_password/1/",                       (404,  404,     404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    ("/verify/",                                                       (302,  200,     200,     200,   200,     200,     200,  200,  200,      200,        200,      200)),
    ("/v/{token}/",                                                    (302,  A,       A,       A,     B,       200,     200,  200,  A,        404,        404,      200)),
    # The relative's pages of a remote consent: no account, a one-time link; an unknown link is a 404 to everyone.
    ("/remote/not-a-token/",                                           (404,  404,     404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    ("/remote/not-a-token/consent/",                                   (404,  404,     404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    ("/remote/not-a-token/done/",                                      (404,  404,     404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    # --- Pages ---------------------------------------------------------------------------------------------------------
    ("/",                                                              (302,  200,     200,     200,   200,     200,     200,  200,  200,      200,        200,      200)),
    (T + "/",                                                          (302,  200,     200,     200,   200,     200,     200,  200,  200,      404,        404,      200)),
    ("{protocol_url}",                                                 (302,  200,     200,     200,   200,     200,     200,  200,  200,      404,        404,      200)),
    ("{protocol_version_url}",                                         (302,  200,     200,     200,   200,     200,     200,  200,  200,      404,        404,      200)),
    ("{draft_protocol_url}",                                           (404,  404,     404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    ("{correspondence_url}",                                           (302,  404,     404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    ("{submission_url}",                                               (302,  404,     404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    ("{item_url}",                                                     (302,  404,     404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    ("{cf_index_url}",                                                 (302,  404,     404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    ("{cf_version_url}",                                               (302,  404,     404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    ("{cf_version_url}pdf/",                                           (302,  404,     404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    ("{cf_version_url}effective/",                                     (302,  404,     404,     404,   404,     200,     404,  404,  404,      404,        404,      200)),
    ("{cf_version_url}withdraw/",                                      (302,  404,     404,     404,   404,     405,     405,  405,  405,      404,        404,      405)),
    ("{cf_draft_url}",                                                 (404,  404,     404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    # --- A site and its participants -----------------------------------------------------------------------------------
    (T + "/sites/{site}/",                                             (302,  A,       A,       A,     B,       200,     200,  200,  A,        404,        404,      200)),
    (T + "/sites/{site}/acknowledge/{activation}/",                    (302,  405,     405,     405,   405,     405,     405,  405,  405,      404,        404,      405)),
    (T + "/sites/{site}/acknowledge-form/{form_period}/",              (302,  405,     405,     405,   405,     405,     405,  405,  405,      404,        404,      405)),
    (T + "/sites/{site}/consent-forms/",                               (302,  A,       A,       A,     B,       200,     200,  200,  A,        404,        404,      200)),
    (T + "/sites/{site}/consent-forms/all/pdf/",                       (302,  A,       A,       A,     B,       200,     200,  200,  A,        404,        404,      200)),
    (T + "/sites/{site}/consent-forms/{form}/pdf/",                    (302,  A,       A,       A,     B,       200,     200,  200,  A,        404,        404,      200)),
    (T + "/sites/{site}/participants/",                                (302,  A,       A,       A,     B,       200,     200,  200,  A,        404,        404,      200)),
    (T + "/sites/{site}/consent-records/export/",                      (302,  A,       A,       A,     B,       200,     200,  200,  A,        404,        404,      200)),
    (T + "/sites/{site}/participants/{participant}/",                  (302,  A,       A,       A,     B,       200,     200,  200,  A,        404,        404,      200)),
    # nurse_a is not delegated "obtain informed consent": the form is not offered, the page says why (403).
    (T + "/sites/{site}/participants/{fresh}/consent/{cf_version}/",   (302,  A,       (403, 404), A,     B,       404,     404,  404,  404,      404,        404,      404)),
    (T + "/sites/{site}/participants/{participant}/withdraw/",         (302,  405,     405,     405,   405,     405,     405,  405,  405,      404,        404,      405)),
    (T + "/sites/{site}/participants/{participant}/death/",            (302,  405,     405,     405,   405,     405,     405,  405,  405,      404,        404,      405)),
    (T + "/sites/{site}/participants/{spare}/not-included/",           (302,  405,     405,     405,   405,     405,     405,  405,  405,      404,        404,      405)),
    (T + "/sites/{site}/participants/{participant}/consents/1/pdf/",   (302,  A,       A,       A,     B,       200,     200,  200,  A,        404,        404,      200)),
    (T + "/sites/{site}/tasks/",                                       (302,  A,       A,       A,     B,       200,     200,  200,  A,        404,        404,      200)),
    # The delegation log: read by whoever reads the site; entries written and signed by its principal investigator.
    (T + "/sites/{site}/delegation/",                                  (302,  A,       A,       A,     B,       200,     200,  200,  A,        404,        404,      200)),
    (T + "/sites/{site}/delegation/1/pdf/",                            (302,  A,       A,       A,     B,       200,     200,  200,  A,        404,        404,      200)),
    (T + "/sites/{site}/delegation/{delegation_entry}/acknowledge/",   (302,  405,     405,     405,   405,     405,     405,  405,  405,      404,        404,      405)),
    # The investigator site file: the site's staff and inspectors in a window covering the site; not the sponsor, QA
    # or an administrator (it holds the consent records, which stay at the site).
    (T + "/sites/{site}/isf/",                                         (302,  A,       A,       A,     B,       404,     404,  200,  A,        404,        404,      404)),
    (T + "/sites/{site}/isf/export/",                                  (302,  A,       A,       A,     B,       404,     404,  200,  A,        404,        404,      404)),
    (T + "/sites/{site}/isf/documents/{tmf_doc}/",                     (302,  A,       A,       A,     B,       404,     404,  200,  A,        404,        404,      404)),
    (T + "/sites/{site}/participants/{participant}/tasks/{inform_task}/informed/", (302,  405,  405, 405, 405, 405, 405, 405, 405, 404, 404, 405)),
    (T + "/sites/{site}/participants/{participant}/consents/1/countersign/", (302, 405, 405, 405, 405, 405,   405,  405,  405,      404,        404,      405)),
    # Remote consent of a relative: invited, cancelled and countersigned from the participant's page (POST only).
    (T + "/sites/{site}/participants/{participant}/remote/invite/",     (302,  405,     405,     405,   405,     405,     405,  405,  405,      404,        404,      405)),
    (T + "/sites/{site}/participants/{participant}/remote/1/cancel/",   (302,  405,     405,     405,   405,     405,     405,  405,  405,      404,        404,      405)),
    (T + "/sites/{site}/participants/{participant}/remote/1/countersign/", (302, 405,   405,     405,   405,     405,     405,  405,  405,      404,        404,      405)),
    # An object of one site asked for under the other site's URL: nobody gets it.
    (T + "/sites/dij/participants/{lil_participant}/",                 (302,  404,     404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    (T + "/sites/dij/participants/{lil_participant}/consents/1/pdf/",  (302,  404,     404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    (T + "/sites/dij/consent-forms/{lil_only_form}/pdf/",              (302,  404,     404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    (T + "/sites/bor/",                                                (302,  404,     404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    # --- The sponsor's follow-up ---------------------------------------------------------------------------------------
    (T + "/dashboard/",                                                (302,  404,     404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (T + "/acknowledgements/",                                         (302,  404,     404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (T + "/acknowledgements/{activation}/remind/",                     (302,  405,     405,     405,   405,     405,     405,  405,  405,      404,        404,      405)),
    (T + "/acknowledgements/forms/{form_period}/remind/",              (302,  405,     405,     405,   405,     405,     405,  405,  405,      404,        404,      405)),
    (T + "/activations/new/",                                          (302,  404,     404,     404,   404,     200,     404,  404,  404,      404,        404,      200)),
    # --- The other trial -----------------------------------------------------------------------------------------------
    ("{other_trial_url}",                                              (302,  404,     404,     404,   404,     404,     404,  404,  404,      404,        200,      200)),
    ("{other_trial_url}sites/{other_site}/",                           (302,  404,     404,     404,   404,     404,     404,  404,  404,      404,        200,      200)),
    ("{other_protocol_url}",                                           (302,  404,     404,     404,   404,     404,     404,  404,  404,      404,        200,      200)),
    # --- Private documents, and nothing under MEDIA_URL ----------------------------------------------------------------
    ("{protocol_doc_url}",                                             (302,  200,     200,     200,   200,     200,     200,  200,  200,      404,        404,      200)),
    ("{attachment_url}",                                               (302,  404,     404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    ("/media/{protocol_doc_path}",                                     (404,  404,     404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    ("/media/{attachment_path}",                                       (404,  404,     404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    ("/media/{consent_pdf_path}",                                      (404,  404,     404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    ("/media/{tmf_upload_path}",                                       (404,  404,     404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    ("/media/{master_path}",                                           (404,  404,     404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    ("/media/{export_path}",                                           (404,  404,     404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    # --- Audit trail ---------------------------------------------------------------------------------------------------
    ("/audit/",                                                        (302,  404,     404,     404,   404,     200,     200,  200,  200,      404,        200,      200)),
    ("/audit/?format=csv",                                             (302,  404,     404,     404,   404,     200,     200,  200,  200,      404,        200,      200)),
    ("/audit/object/regulatory.investigationalsite/{site_pk}/",        (302,  404,     404,     404,   404,     200,     200,  200,  200,      404,        200,      200)),
    ("/audit/user/{staff_pk}/",                                        (302,  404,     404,     404,   404,     200,     200,  200,  200,      404,        200,      200)),
    # --- Trial Master File ---------------------------------------------------------------------------------------------
    # Quality control (issue 19): the sponsor's side reads the QC page and a document pending QC; inspectors see only
    # QC-approved documents. Only the TMF QC role decides (its own table below: QC_MATRIX).
    (TMF + "/qc/",                                                     (302,  404,  404,     404,   404,     200,     200,  404,  404,      404,        404,      200)),
    (TMF + "/qc/?format=csv",                                          (302,  404,  404,     404,   404,     200,     200,  404,  404,      404,        404,      200)),
    (TMF + "/qc/?format=xlsx",                                         (302,  404,  404,     404,   404,     200,     200,  404,  404,      404,        404,      200)),
    (TMF + "/qc/settings/",                                            (302,  404,  404,     404,   404,     200,     404,  404,  404,      404,        404,      200)),
    (TMF + "/documents/{pending_tmf_doc}/",                            (302,  404,  404,     404,   404,     200,     200,  404,  404,      404,        404,      200)),
    (TMF + "/documents/{pending_tmf_doc}/download/",                   (302,  404,  404,     404,   404,     200,     200,  404,  404,      404,        404,      200)),
    (TMF + "/documents/{pending_tmf_doc}/qc/",                         (302,  405,  405,     405,   405,     405,     405,  405,  405,      405,        405,      405)),
    (TMF + "/milestones/",                                             (302,  404,  404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (TMF + "/fixity/{fixity}/report/",                                 (302,  404,  404,     404,   404,     200,     403,  403,  403,      404,        404,      200)),
    (TMF + "/",                                                        (302,  404,     404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (TMF + "/zone/02/",                                                (302,  404,     404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (TMF + "/artifact/02.01.02/",                                      (302,  404,     404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (TMF + "/search/?q=registre",                                      (302,  404,     404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (TMF + "/documents/{trial_tmf_doc}/",                              (302,  404,     404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (TMF + "/documents/{trial_tmf_doc}/view/",                         (302,  404,     404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (TMF + "/documents/{trial_tmf_doc}/download/",                     (302,  404,     404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (TMF + "/documents/{tmf_doc}/",                                    (302,  404,     404,     404,   404,     200,     200,  200,  A,        404,        404,      200)),
    (TMF + "/documents/{tmf_doc}/view/",                               (302,  404,     404,     404,   404,     200,     200,  200,  A,        404,        404,      200)),
    (TMF + "/documents/{tmf_doc}/download/",                           (302,  404,     404,     404,   404,     200,     200,  200,  A,        404,        404,      200)),
    (TMF + "/upload/",                                                 (302,  404,     404,     404,   404,     200,     404,  404,  404,      404,        404,      200)),
    (TMF + "/inspections/",                                            (302,  404,     404,     404,   404,     200,     404,  404,  404,      404,        404,      200)),
    (TMF + "/inspections/{grant}/close/",                              (302,  405,     405,     405,   405,     405,     405,  405,  405,      405,        405,      405)),
    (TMF + "/completeness/",                                           (302,  404,     404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (TMF + "/completeness/?format=csv",                                (302,  404,     404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (TMF + "/completeness/settings/",                                  (302,  404,     404,     404,   404,     200,     404,  404,  404,      404,        404,      200)),
    (TMF + "/exports/",                                                (302,  404,     404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (TMF + "/exports/{job}/status/",                                   (404,  404,     404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (TMF + "/exports/{job}/download/",                                 (302,  404,     404,     404,   404,     200,     200,  200,  403,      404,        404,      200)),
    ("/tmf/NCT01234567/",                                              (302,  404,     404,     404,   404,     404,     404,  404,  404,      404,        200,      200)),
    ("/tmf/NCT99999999/",                                              (302,  404,     404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    # --- Wagtail admin (a refusal there is a redirect; an object of another scope is a 404) ----------------------------
    ("/admin/",                                                        (302,  302,     302,     302,   302,     200,     200,  302,  302,      302,        200,      200)),
    ("/admin/pages/{trial_pk}/",                                       (302,  302,     302,     302,   302,     200,     302,  302,  302,      302,        302,      200)),
    ("/admin/pages/{cf_draft_pk}/edit/",                               (302,  302,     302,     302,   302,     200,     302,  302,  302,      302,        302,      200)),
    ("/admin/pages/{cf_draft_pk}/view_draft/",                         (302,  302,     302,     302,   302,     200,     302,  302,  302,      302,        302,      200)),
    ("/admin/pages/{cf_version}/history/",                             (302,  302,     302,     302,   302,     200,     302,  302,  302,      302,        302,      200)),
    ("/admin/api/main/pages/{trial_pk}/",                              (302,  302,     302,     302,   302,     200,     404,  302,  302,      302,        404,      200)),
    ("/admin/choose-page/{trial_pk}/",                                 (302,  302,     302,     302,   302,     200,     200,  302,  302,      302,        200,      200)),
    ("/admin/investigational_sites/",                                  (302,  302,     302,     302,   302,     200,     200,  302,  302,      302,        200,      200)),
    ("/admin/investigational_sites/new/",                              (302,  302,     302,     302,   302,     200,     302,  302,  302,      302,        200,      200)),
    ("/admin/investigational_sites/edit/{site_pk}/",                   (302,  302,     302,     302,   302,     200,     302,  302,  302,      302,        404,      200)),
    ("/admin/investigational_sites/inspect/{site_pk}/",                (302,  302,     302,     302,   302,     200,     200,  302,  302,      302,        404,      200)),
    ("/admin/investigational_sites/history/{site_pk}/",                (302,  302,     302,     302,   302,     200,     302,  302,  302,      302,        404,      200)),
    ("/admin/investigational_sites/delete/{site_pk}/",                 (302,  302,     302,     302,   302,     404,     404,  302,  302,      302,        404,      404)),
    ("/admin/users/",                                                  (302,  302,     302,     302,   302,     302,     302,  302,  302,      302,        302,      200)),
    ("/admin/users/edit/{staff_pk}/",                                  (302,  302,     302,     302,   302,     302,     302,  302,  302,      302,        302,      200)),
    ("/admin/documents/",                                              (302,  302,     302,     302,   302,     200,     302,  302,  302,      302,        200,      200)),
    ("/admin/documents/edit/{attachment_pk}/",                         (302,  302,     302,     302,   302,     200,     302,  302,  302,      302,        302,      200)),
    ("/admin/consent/compare/",                                        (302,  302,     302,     302,   302,     200,     200,  302,  302,      302,        200,      200)),
    ("/admin/consent/versions/{cf_version}/pdf/",                      (302,  302,     302,     302,   302,     200,     200,  302,  302,      302,        404,      200)),
    ("/admin/consent/versions/{cf_version}/docx/",                     (302,  302,     302,     302,   302,     200,     200,  302,  302,      302,        404,      200)),
    ("/admin/consent/import/",                                         (302,  302,     302,     302,   302,     200,     200,  302,  302,      302,        200,      200)),
    ("/admin/consent/import/title/",                                   (302,  302,     302,     302,   302,     405,     405,  302,  302,      302,        405,      405)),
    # Wagtail's page actions (issue 12): what the rules refuse is answered with its reason and a redirect (302), even
    # to the sponsor and the administrator; an approved version's editor opens, read-only.
    ("/admin/pages/{cf_version}/copy/",                                (302,  302,     302,     302,   302,     302,     302,  302,  302,      302,        302,      302)),
    ("/admin/pages/{cf_version}/unpublish/",                           (302,  302,     302,     302,   302,     302,     302,  302,  302,      302,        302,      302)),
    ("/admin/pages/{cf_version}/delete/",                              (302,  302,     302,     302,   302,     302,     302,  302,  302,      302,        302,      302)),
    ("/admin/pages/{cf_version}/move/",                                (302,  302,     302,     302,   302,     302,     302,  302,  302,      302,        302,      302)),
    ("/admin/pages/{cf_version}/revisions/{cf_revision}/revert/",      (302,  302,     302,     302,   302,     302,     302,  302,  302,      302,        302,      302)),
    ("/admin/pages/{cf_version}/edit/",                                (302,  302,     302,     302,   302,     200,     302,  302,  302,      302,        302,      200)),
    # --- FHIR API: for programs with a bearer token (see API_MATRIX); a session is no way in (401) ------------------
    ("/fhir/R5/metadata",                                              (200,  200,     200,     200,   200,     200,     200,  200,  200,      200,        200,      200)),
    ("/fhir/R5/Consent",                                               (401,  401,     401,     401,   401,     401,     401,  401,  401,      401,        401,      401)),
    ("/fhir/R4B/Consent/{fhir_consent}",                               (401,  401,     401,     401,   401,     401,     401,  401,  401,      401,        401,      401)),
    ("/fhir/R5/Consent/{fhir_consent}/_history",                       (404,  404,     404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    ("/fhir/",                                                         (404,  404,     404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
]
# fmt: on


# --- The FHIR API, by bearer token -----------------------------------------------------------------------------------
# Columns: no token; a token nobody issued; the sponsor's trial token once expired, once revoked; the sponsor's trial
# token; the DIJ coordinator's token for DIJ; the LIL coordinator's for LIL; the sponsor's narrowed to LIL; the DIJ
# coordinator's for the whole trial (it reads DIJ only: never more than its account); the other trial's sponsor's
# token (for NCT01234567); an administrator's trial token. A site object's cell is (DIJ, LIL) as above.
API_COLUMNS = ("none", "garbage", "expired", "revoked", "trial", "dij", "lil", "sp_lil", "staff_trial", "other",
               "admin")
R = (401, 401, 401, 401)  # no usable token

# fmt: off
API_MATRIX = [
    # URL template                                    none garbage expired revoked  trial  dij  lil  sp_lil staff_trial other admin
    ("/fhir/R4B/metadata",                           (200, 200,    200,    200,     200,   200, 200, 200,   200,        200,  200)),
    ("/fhir/R5/Consent",                             (*R,                           200,   200, 200, 200,   200,        200,  200)),
    ("/fhir/R5/Consent/{fhir_consent}",              (*R,                           200,   A,   B,   B,     A,          404,  200)),
    ("/fhir/R4B/Consent/{fhir_consent}",             (*R,                           200,   A,   B,   B,     A,          404,  200)),
    ("/fhir/R5/ResearchSubject/{fhir_subject}",      (*R,                           200,   A,   B,   B,     A,          404,  200)),
    ("/fhir/R4B/ResearchSubject/{fhir_subject}",     (*R,                           200,   A,   B,   B,     A,          404,  200)),
    ("/fhir/R5/Organization/{fhir_org}",             (*R,                           200,   A,   B,   B,     A,          404,  200)),
    ("/fhir/R5/ResearchStudy/NCT07063680",           (*R,                           200,   200, 200, 200,   200,        404,  200)),
    ("/fhir/R5/ResearchStudy/NCT01234567",           (*R,                           404,   404, 404, 404,   404,        200,  404)),
    ("/fhir/R5/Consent?study=NCT07063680",           (*R,                           200,   200, 200, 200,   200,        403,  200)),
    ("/fhir/R5/Consent?_count=100000",               (*R,                           400,   400, 400, 400,   400,        400,  400)),
    ("/fhir/R5/Patient",                             (404, 404,    404,    404,     404,   404, 404, 404,   404,        404,  404)),
]
# fmt: on
# What each token's searches may list: the site codes in the ids of every Consent, ResearchSubject and Organization.
API_SITES = {"trial": {"DIJ", "LIL"}, "dij": {"DIJ"}, "lil": {"LIL"}, "sp_lil": {"LIL"}, "staff_trial": {"DIJ"},
             "other": {"BOR"}, "admin": {"DIJ", "LIL"}}

# --- Writes ----------------------------------------------------------------------------------------------------------
# Each row is POSTed with valid data (`PAYLOADS` in the test module). W: the write is made (a 302 and at least one new
# audit entry, every write here being audited); a status: that answer and nothing written. Inspectors' posts are
# refused (403) by their middleware whatever the URL, but for /verify/, which stores nothing.
W = "write"
WA, WB = (W, 404), (404, W)  # written by site A's staff only, by site B's staff only

# fmt: off
WRITES = [
    # URL template                                                       anon  coord_a  nurse_a  inv_a  coord_b  sponsor  qa    insp  insp_dij  insp_after  other_sp  admin
    # before the withdrawal below, which closes the participant's tasks
    # Telling a participant of a non-substantive change is part of obtaining consent: the nurse, not delegated it, is
    # refused (404).
    (T + "/sites/{site}/participants/{participant}/tasks/{inform_task}/informed/", (302,  WA,  (404, 404), WA, WB, 404, 404, 403, 403, 403, 404, 404)),
    (TMF + "/documents/{pending_tmf_doc}/qc/",                         (302,  404,  404,     404,   404,     404,     404,  403,  403,      403,        404,      404)),
    (TMF + "/qc/settings/",                                            (302,  404,  404,     404,   404,     W,       404,  403,  403,      403,        404,      W)),
    (TMF + "/milestones/",                                             (302,  404,  404,     404,   404,     W,       404,  403,  403,      403,        404,      W)),
    (TMF + "/fixity/",                                                 (302,  404,  404,     404,   404,     W,       403,  403,  403,      403,        404,      W)),
    (T + "/sites/{site}/acknowledge/{activation}/",                    (302,  WA,      WA,      WA,    WB,      404,     404,  403,  403,      403,        404,      404)),
    (T + "/acknowledgements/{activation}/remind/",                     (302,  404,     404,     404,   404,     W,       404,  403,  403,      403,        404,      W)),
    (T + "/sites/{site}/acknowledge-form/{form_period}/",              (302,  WA,      WA,      WA,    WB,      404,     404,  403,  403,      403,        404,      404)),
    (T + "/acknowledgements/forms/{form_period}/remind/",              (302,  404,     404,     404,   404,     W,       404,  403,  403,      403,        404,      W)),
    (T + "/sites/{site}/participants/",                                (302,  WA,      WA,      WA,    WB,      404,     404,  403,  403,      403,        404,      404)),
    (T + "/sites/{site}/participants/{fresh}/consent/{cf_version}/",   (302,  WA,      (400, 404),       WA,    WB,      404,     404,  403,  403,      403,        404,      404)),
    (T + "/sites/{site}/participants/{participant}/withdraw/",         (302,  WA,      WA,      WA,    WB,      404,     404,  403,  403,      403,        404,      404)),
    (T + "/sites/{site}/participants/{fresh}/death/",                  (302,  WA,      (302, 404),       WA,    WB,      404,     404,  403,  403,      403,        404,      404)),
    (T + "/sites/{site}/participants/{spare}/not-included/",           (302,  WA,      WA,      WA,    WB,      404,     404,  403,  403,      403,        404,      404)),
    # Only DIJ's principal investigator (inv_a) signs an entry of its log; LIL has none named: refused (400) with the
    # reason to whoever else reads the site, nothing written. Only the staff member named acknowledges an entry.
    (T + "/sites/{site}/delegation/",                                  (302,  (400, 404), (400, 404), WA, (404, 400), 400, 400, 403, 403, 403,      404,      400)),
    (T + "/sites/{site}/delegation/{delegation_entry}/acknowledge/",   (302,  WA,      (302, 404), (302, 404), WB, 302,  302,  403,  403,      403,        404,      302)),
    (T + "/activations/new/",                                          (302,  404,     404,     404,   404,     W,       404,  403,  403,      403,        404,      W)),
    ("{cf_pending_url}effective/",                                     (302,  404,     404,     404,   404,     W,       404,  403,  403,      403,        404,      W)),
    ("{cf_pending_url}withdraw/",                                      (302,  404,     404,     404,   404,     W,       404,  403,  403,      403,        404,      W)),
    (TMF + "/upload/",                                                 (302,  404,     404,     404,   404,     W,       404,  403,  403,      403,        404,      W)),
    (TMF + "/inspections/",                                            (302,  404,     404,     404,   404,     W,       404,  403,  403,      403,        404,      W)),
    (TMF + "/inspections/{grant}/close/",                              (302,  404,     404,     404,   404,     W,       404,  403,  403,      403,        404,      W)),
    (TMF + "/completeness/settings/",                                  (302,  404,     404,     404,   404,     W,       404,  403,  403,      403,        404,      W)),
    (TMF + "/exports/",                                                (302,  404,     404,     404,   404,     W,       403,  403,  403,      403,        404,      W)),
    # A finished export is not stalled: its retry is refused with a message (302 back to the list), nothing written.
    (TMF + "/exports/{job}/retry/",                                    (302,  404,     404,     404,   404,     302,     403,  403,  403,      403,        404,      302)),
    ("/verify/",                                                       (302,  200,     200,     200,   200,     200,     200,  200,  200,      200,        200,      200)),
    ("/admin/investigational_sites/edit/{site_pk}/",                   (302,  302,     302,     302,   302,     W,       302,  403,  403,      403,        404,      W)),
    # Wagtail's page actions (issue 12), decided by `permissions.page_action_refusal`: copy ("publish copies"), alias,
    # unpublish, delete, move and privacy of a trial's pages are refused to everyone (302 with the reason, nothing
    # written); lock and unlock of a draft are the sponsor's and the administrator's; nobody locks, unlocks or reverts
    # an approved version. A refusal writes nothing: no page, revision, log entry, audit entry or lock.
    ("/admin/pages/{cf_version}/copy/",                               (302,  302,     302,     302,   302,     302,     302,  403,  403,      403,        302,      302)),
    ("/admin/pages/{protocol_version_pk}/copy/",                       (302,  302,     302,     302,   302,     302,     302,  403,  403,      403,        302,      302)),
    ("/admin/pages/{trial_pk}/copy/",                                  (302,  302,     302,     302,   302,     302,     302,  403,  403,      403,        302,      302)),
    ("/admin/pages/{item_pk}/copy/",                                   (302,  302,     302,     302,   302,     302,     302,  403,  403,      403,        302,      302)),
    ("/admin/pages/{cf_version}/unpublish/",                          (302,  302,     302,     302,   302,     302,     302,  403,  403,      403,        302,      302)),
    ("/admin/pages/{protocol_version_pk}/unpublish/",                  (302,  302,     302,     302,   302,     302,     302,  403,  403,      403,        302,      302)),
    ("/admin/pages/{item_pk}/unpublish/",                              (302,  302,     302,     302,   302,     302,     302,  403,  403,      403,        302,      302)),
    ("/admin/pages/{cf_draft_pk}/delete/",                             (302,  302,     302,     302,   302,     302,     302,  403,  403,      403,        302,      302)),
    ("/admin/pages/{item_pk}/delete/",                                 (302,  302,     302,     302,   302,     302,     302,  403,  403,      403,        302,      302)),
    ("/admin/pages/{cf_draft_pk}/move/{cf_index_pk}/confirm/",         (302,  302,     302,     302,   302,     302,     302,  403,  403,      403,        302,      302)),
    ("/admin/pages/{cf_version}/privacy/",                             (302,  302,     302,     302,   302,     302,     302,  403,  403,      403,        302,      302)),
    ("/admin/pages/{cf_version}/lock/",                                (302,  302,     302,     302,   302,     302,     302,  403,  403,      403,        302,      302)),
    ("/admin/pages/{cf_version}/revisions/{cf_revision}/revert/",     (302,  302,     302,     302,   302,     302,     302,  403,  403,      403,        302,      302)),
    ("/admin/pages/{cf_draft_pk}/lock/",                               (302,  302,     302,     302,   302,     W,       302,  403,  403,      403,        302,      W)),
    ("/admin/pages/{cf_draft_pk}/unlock/",                             (302,  302,     302,     302,   302,     W,       302,  403,  403,      403,        302,      W)),
    ("/admin/bulk/wagtailcore/page/unpublish/?id={cf_version}",        (302,  302,     302,     302,   302,     302,     302,  403,  403,      403,        302,      302)),
    ("/admin/bulk/wagtailcore/page/delete/?id={cf_draft_pk}",          (302,  302,     302,     302,   302,     302,     302,  403,  403,      403,        302,      302)),
]
# fmt: on

# The trial's TMF QC role (issue 19), beside the sponsor who filed the pending document: the QC member reads what the
# sponsor's side reads in the TMF, decides QC (W), never opens the sponsor's settings; the sponsor, who filed it, may
# not decide (404: the decision is the QC role's), and neither may an administrator by virtue of being one.
QC_COLUMNS = ("sponsor", "tmf_qc", "admin")
# fmt: off
QC_MATRIX = [
    (TMF + "/",                                                        (200,     200,     200)),
    (TMF + "/qc/",                                                     (200,     200,     200)),
    (TMF + "/documents/{pending_tmf_doc}/",                            (200,     200,     200)),
    (TMF + "/milestones/",                                             (200,     200,     200)),
    (TMF + "/qc/settings/",                                            (200,     404,     200)),
    (TMF + "/upload/",                                                 (200,     404,     200)),
]
QC_WRITES = [
    (TMF + "/documents/{pending_tmf_doc}/qc/",                         (404,     W,       404)),
    (TMF + "/qc/settings/",                                            (W,       404,     W)),
]
# fmt: on
