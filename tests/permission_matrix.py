# ruff: noqa: E501  (the tables below are grids, one column per persona)
"""The permission matrix (issue 7): the status every URL answers to every persona, read from the README's role table
and `regulatory/permissions.py`. One row per URL template, one column per persona.

A cell is one status for every object, or a pair `(site A, site B)` when the row names an object of a site
(`{site}`, `{participant}`, `{token}`...): the row is requested once with the DIJ object, once with the LIL one.

Personas (`tests/test_permission_matrix.py` makes them from the `world` fixture of `conftest.py`):
    anon        not logged in
    coord_a     coordinator of site A (DIJ)            inv_a      investigator of site A (DIJ)
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
participant still in screening), activation (protocol v1.0 at the site), token (the consent's short link),
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
- /admin/consent/import/ opens to QA but offers no trial to import into (the form lists the trials one manages).
"""

COLUMNS = ("anon", "coord_a", "inv_a", "coord_b", "sponsor", "qa", "insp", "insp_dij", "insp_after", "other_sp", "admin")

# Keys whose value differs between the site A and the site B object (see `build` in the test module).
SITE_KEYS = {"site", "site_pk", "participant", "fresh", "activation", "token", "form", "tmf_doc", "staff_pk",
             "consent_pdf_path", "tmf_upload_path"}

T = "/nct07063680"  # the trial page
TMF = "/tmf/NCT07063680"
A, B = (200, 404), (404, 200)  # read by site A's staff only, by site B's staff only

# fmt: off
MATRIX = [
    # URL template                                                       anon  coord_a  inv_a  coord_b  sponsor  qa    insp  insp_dij  insp_after  other_sp  admin
    # --- Accounts, plumbing ------------------------------------------------------------------------------------------
    ("/healthz",                                                       (200,  200,     200,   200,     200,     200,  200,  200,      200,        200,      200)),
    ("/accounts/login/",                                               (200,  302,     302,   302,     302,     302,  302,  302,      302,        302,      302)),
    ("/accounts/logout/",                                              (405,  405,     405,   405,     405,     405,  405,  405,      405,        405,      405)),
    ("/accounts/password_change/",                                     (302,  200,     200,   200,     200,     200,  200,  200,      200,        200,      200)),
    ("/accounts/password_change/done/",                                (302,  200,     200,   200,     200,     200,  200,  200,      200,        200,      200)),
    ("/i18n/setlang/",                                                 (302,  302,     302,   302,     302,     302,  302,  302,      302,        302,      302)),
    ("/jsi18n/",                                                       (200,  200,     200,   200,     200,     200,  200,  200,      200,        200,      200)),
    ("/_util/login/",                                                  (200,  302,     302,   302,     302,     302,  302,  302,      302,        302,      302)),
    ("/_util/authenticate_with_password/1/{trial_pk}/",                (404,  404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    ("/documents/authenticate_with_password/1/",                       (404,  404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    ("/verify/",                                                       (302,  200,     200,   200,     200,     200,  200,  200,      200,        200,      200)),
    ("/v/{token}/",                                                    (302,  A,       A,     B,       200,     200,  200,  A,        404,        404,      200)),
    # --- Pages ---------------------------------------------------------------------------------------------------------
    ("/",                                                              (302,  200,     200,   200,     200,     200,  200,  200,      200,        200,      200)),
    (T + "/",                                                          (302,  200,     200,   200,     200,     200,  200,  200,      404,        404,      200)),
    ("{protocol_url}",                                                 (302,  200,     200,   200,     200,     200,  200,  200,      404,        404,      200)),
    ("{protocol_version_url}",                                         (302,  200,     200,   200,     200,     200,  200,  200,      404,        404,      200)),
    ("{draft_protocol_url}",                                           (404,  404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    ("{correspondence_url}",                                           (302,  404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    ("{submission_url}",                                               (302,  404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    ("{item_url}",                                                     (302,  404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    ("{cf_index_url}",                                                 (302,  404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    ("{cf_version_url}",                                               (302,  404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    ("{cf_version_url}pdf/",                                           (302,  404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    ("{cf_version_url}effective/",                                     (302,  404,     404,   404,     200,     404,  404,  404,      404,        404,      200)),
    ("{cf_version_url}withdraw/",                                      (302,  404,     404,   404,     405,     405,  405,  405,      404,        404,      405)),
    ("{cf_draft_url}",                                                 (404,  404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    # --- A site and its participants -----------------------------------------------------------------------------------
    (T + "/sites/{site}/",                                             (302,  A,       A,     B,       200,     200,  200,  A,        404,        404,      200)),
    (T + "/sites/{site}/acknowledge/{activation}/",                    (302,  405,     405,   405,     405,     405,  405,  405,      404,        404,      405)),
    (T + "/sites/{site}/consent-forms/",                               (302,  A,       A,     B,       200,     200,  200,  A,        404,        404,      200)),
    (T + "/sites/{site}/consent-forms/all/pdf/",                       (302,  A,       A,     B,       200,     200,  200,  A,        404,        404,      200)),
    (T + "/sites/{site}/consent-forms/{form}/pdf/",                    (302,  A,       A,     B,       200,     200,  200,  A,        404,        404,      200)),
    (T + "/sites/{site}/participants/",                                (302,  A,       A,     B,       200,     200,  200,  A,        404,        404,      200)),
    (T + "/sites/{site}/consent-records/export/",                      (302,  A,       A,     B,       200,     200,  200,  A,        404,        404,      200)),
    (T + "/sites/{site}/participants/{participant}/",                  (302,  A,       A,     B,       200,     200,  200,  A,        404,        404,      200)),
    (T + "/sites/{site}/participants/{fresh}/consent/{cf_version}/",   (302,  A,       A,     B,       404,     404,  404,  404,      404,        404,      404)),
    (T + "/sites/{site}/participants/{participant}/withdraw/",         (302,  405,     405,   405,     405,     405,  405,  405,      404,        404,      405)),
    (T + "/sites/{site}/participants/{participant}/death/",            (302,  405,     405,   405,     405,     405,  405,  405,      404,        404,      405)),
    (T + "/sites/{site}/participants/{participant}/consents/1/pdf/",   (302,  A,       A,     B,       200,     200,  200,  A,        404,        404,      200)),
    (T + "/sites/{site}/tasks/",                                       (302,  A,       A,     B,       200,     200,  200,  A,        404,        404,      200)),
    # An object of one site asked for under the other site's URL: nobody gets it.
    (T + "/sites/dij/participants/{lil_participant}/",                 (302,  404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    (T + "/sites/dij/participants/{lil_participant}/consents/1/pdf/",  (302,  404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    (T + "/sites/dij/consent-forms/{lil_only_form}/pdf/",              (302,  404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    (T + "/sites/bor/",                                                (302,  404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    # --- The sponsor's follow-up ---------------------------------------------------------------------------------------
    (T + "/dashboard/",                                                (302,  404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (T + "/acknowledgements/",                                         (302,  404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (T + "/acknowledgements/{activation}/remind/",                     (302,  405,     405,   405,     405,     405,  405,  405,      404,        404,      405)),
    (T + "/activations/new/",                                          (302,  404,     404,   404,     200,     404,  404,  404,      404,        404,      200)),
    # --- The other trial -----------------------------------------------------------------------------------------------
    ("{other_trial_url}",                                              (302,  404,     404,   404,     404,     404,  404,  404,      404,        200,      200)),
    ("{other_trial_url}sites/{other_site}/",                           (302,  404,     404,   404,     404,     404,  404,  404,      404,        200,      200)),
    ("{other_protocol_url}",                                           (302,  404,     404,   404,     404,     404,  404,  404,      404,        200,      200)),
    # --- Private documents, and nothing under MEDIA_URL ----------------------------------------------------------------
    ("{protocol_doc_url}",                                             (302,  200,     200,   200,     200,     200,  200,  200,      404,        404,      200)),
    ("{attachment_url}",                                               (302,  404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    ("/media/{protocol_doc_path}",                                     (404,  404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    ("/media/{attachment_path}",                                       (404,  404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    ("/media/{consent_pdf_path}",                                      (404,  404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    ("/media/{tmf_upload_path}",                                       (404,  404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    ("/media/{master_path}",                                           (404,  404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    ("/media/{export_path}",                                           (404,  404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    # --- Audit trail ---------------------------------------------------------------------------------------------------
    ("/audit/",                                                        (302,  404,     404,   404,     200,     200,  200,  200,      404,        200,      200)),
    ("/audit/?format=csv",                                             (302,  404,     404,   404,     200,     200,  200,  200,      404,        200,      200)),
    ("/audit/object/regulatory.investigationalsite/{site_pk}/",        (302,  404,     404,   404,     200,     200,  200,  200,      404,        200,      200)),
    ("/audit/user/{staff_pk}/",                                        (302,  404,     404,   404,     200,     200,  200,  200,      404,        200,      200)),
    # --- Trial Master File ---------------------------------------------------------------------------------------------
    (TMF + "/",                                                        (302,  404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (TMF + "/zone/02/",                                                (302,  404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (TMF + "/artifact/02.01.02/",                                      (302,  404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (TMF + "/search/?q=registre",                                      (302,  404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (TMF + "/documents/{trial_tmf_doc}/",                              (302,  404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (TMF + "/documents/{trial_tmf_doc}/view/",                         (302,  404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (TMF + "/documents/{trial_tmf_doc}/download/",                     (302,  404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (TMF + "/documents/{tmf_doc}/",                                    (302,  404,     404,   404,     200,     200,  200,  A,        404,        404,      200)),
    (TMF + "/documents/{tmf_doc}/view/",                               (302,  404,     404,   404,     200,     200,  200,  A,        404,        404,      200)),
    (TMF + "/documents/{tmf_doc}/download/",                           (302,  404,     404,   404,     200,     200,  200,  A,        404,        404,      200)),
    (TMF + "/upload/",                                                 (302,  404,     404,   404,     200,     404,  404,  404,      404,        404,      200)),
    (TMF + "/inspections/",                                            (302,  404,     404,   404,     200,     404,  404,  404,      404,        404,      200)),
    (TMF + "/inspections/{grant}/close/",                              (302,  405,     405,   405,     405,     405,  405,  405,      405,        405,      405)),
    (TMF + "/completeness/",                                           (302,  404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (TMF + "/completeness/?format=csv",                                (302,  404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (TMF + "/completeness/settings/",                                  (302,  404,     404,   404,     200,     404,  404,  404,      404,        404,      200)),
    (TMF + "/exports/",                                                (302,  404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (TMF + "/exports/{job}/status/",                                   (404,  404,     404,   404,     200,     200,  200,  200,      404,        404,      200)),
    (TMF + "/exports/{job}/download/",                                 (302,  404,     404,   404,     200,     200,  200,  403,      404,        404,      200)),
    ("/tmf/NCT01234567/",                                              (302,  404,     404,   404,     404,     404,  404,  404,      404,        200,      200)),
    ("/tmf/NCT99999999/",                                              (302,  404,     404,   404,     404,     404,  404,  404,      404,        404,      404)),
    # --- Wagtail admin (a refusal there is a redirect; an object of another scope is a 404) ----------------------------
    ("/admin/",                                                        (302,  302,     302,   302,     200,     200,  302,  302,      302,        200,      200)),
    ("/admin/pages/{trial_pk}/",                                       (302,  302,     302,   302,     200,     302,  302,  302,      302,        302,      200)),
    ("/admin/pages/{cf_draft_pk}/edit/",                               (302,  302,     302,   302,     200,     302,  302,  302,      302,        302,      200)),
    ("/admin/pages/{cf_draft_pk}/view_draft/",                         (302,  302,     302,   302,     200,     302,  302,  302,      302,        302,      200)),
    ("/admin/pages/{cf_version}/history/",                             (302,  302,     302,   302,     200,     302,  302,  302,      302,        302,      200)),
    ("/admin/api/main/pages/{trial_pk}/",                              (302,  302,     302,   302,     200,     404,  302,  302,      302,        404,      200)),
    ("/admin/choose-page/{trial_pk}/",                                 (302,  302,     302,   302,     200,     200,  302,  302,      302,        200,      200)),
    ("/admin/investigational_sites/",                                  (302,  302,     302,   302,     200,     200,  302,  302,      302,        200,      200)),
    ("/admin/investigational_sites/new/",                              (302,  302,     302,   302,     200,     302,  302,  302,      302,        200,      200)),
    ("/admin/investigational_sites/edit/{site_pk}/",                   (302,  302,     302,   302,     200,     302,  302,  302,      302,        404,      200)),
    ("/admin/investigational_sites/inspect/{site_pk}/",                (302,  302,     302,   302,     200,     200,  302,  302,      302,        404,      200)),
    ("/admin/investigational_sites/history/{site_pk}/",                (302,  302,     302,   302,     200,     302,  302,  302,      302,        404,      200)),
    ("/admin/investigational_sites/delete/{site_pk}/",                 (302,  302,     302,   302,     404,     404,  302,  302,      302,        404,      404)),
    ("/admin/users/",                                                  (302,  302,     302,   302,     302,     302,  302,  302,      302,        302,      200)),
    ("/admin/users/edit/{staff_pk}/",                                  (302,  302,     302,   302,     302,     302,  302,  302,      302,        302,      200)),
    ("/admin/documents/",                                              (302,  302,     302,   302,     200,     302,  302,  302,      302,        200,      200)),
    ("/admin/documents/edit/{attachment_pk}/",                         (302,  302,     302,   302,     200,     302,  302,  302,      302,        302,      200)),
    ("/admin/consent/compare/",                                        (302,  302,     302,   302,     200,     200,  302,  302,      302,        200,      200)),
    ("/admin/consent/versions/{cf_version}/pdf/",                      (302,  302,     302,   302,     200,     200,  302,  302,      302,        404,      200)),
    ("/admin/consent/versions/{cf_version}/docx/",                     (302,  302,     302,   302,     200,     200,  302,  302,      302,        404,      200)),
    ("/admin/consent/import/",                                         (302,  302,     302,   302,     200,     200,  302,  302,      302,        200,      200)),
]
# fmt: on

# --- Writes ----------------------------------------------------------------------------------------------------------
# Each row is POSTed with valid data (`PAYLOADS` in the test module). W: the write is made (a 302 and at least one new
# audit entry, every write here being audited); a status: that answer and nothing written. Inspectors' posts are
# refused (403) by their middleware whatever the URL, but for /verify/, which stores nothing.
W = "write"
WA, WB = (W, 404), (404, W)  # written by site A's staff only, by site B's staff only

# fmt: off
WRITES = [
    # URL template                                                       anon  coord_a  inv_a  coord_b  sponsor  qa    insp  insp_dij  insp_after  other_sp  admin
    (T + "/sites/{site}/acknowledge/{activation}/",                    (302,  WA,      WA,    WB,      404,     404,  403,  403,      403,        404,      404)),
    (T + "/acknowledgements/{activation}/remind/",                     (302,  404,     404,   404,     W,       404,  403,  403,      403,        404,      W)),
    (T + "/sites/{site}/participants/",                                (302,  WA,      WA,    WB,      404,     404,  403,  403,      403,        404,      404)),
    (T + "/sites/{site}/participants/{fresh}/consent/{cf_version}/",   (302,  WA,      WA,    WB,      404,     404,  403,  403,      403,        404,      404)),
    (T + "/sites/{site}/participants/{participant}/withdraw/",         (302,  WA,      WA,    WB,      404,     404,  403,  403,      403,        404,      404)),
    (T + "/sites/{site}/participants/{fresh}/death/",                  (302,  WA,      WA,    WB,      404,     404,  403,  403,      403,        404,      404)),
    (T + "/activations/new/",                                          (302,  404,     404,   404,     W,       404,  403,  403,      403,        404,      W)),
    ("{cf_pending_url}effective/",                                     (302,  404,     404,   404,     W,       404,  403,  403,      403,        404,      W)),
    ("{cf_pending_url}withdraw/",                                      (302,  404,     404,   404,     W,       404,  403,  403,      403,        404,      W)),
    (TMF + "/upload/",                                                 (302,  404,     404,   404,     W,       404,  403,  403,      403,        404,      W)),
    (TMF + "/inspections/",                                            (302,  404,     404,   404,     W,       404,  403,  403,      403,        404,      W)),
    (TMF + "/inspections/{grant}/close/",                              (302,  404,     404,   404,     W,       404,  403,  403,      403,        404,      W)),
    (TMF + "/completeness/settings/",                                  (302,  404,     404,   404,     W,       404,  403,  403,      403,        404,      W)),
    (TMF + "/exports/",                                                (302,  404,     404,   404,     W,       403,  403,  403,      403,        404,      W)),
    ("/verify/",                                                       (302,  200,     200,   200,     200,     200,  200,  200,      200,        200,      200)),
    ("/admin/investigational_sites/edit/{site_pk}/",                   (302,  302,     302,   302,     W,       302,  403,  403,      403,        404,      W)),
]
# fmt: on
