"""The download of a site's consent records as one zip (`consent/export.py`), linked from the participants list.

Who: whoever reads the site's participants (`regulatory.selectors.site_for_user`, as the list itself): the site's
staff, the sponsor and QA of the trial, an inspector whose window covers the site, administrators; anyone else gets
a 404, another site's staff included. A GET: inspectors may download (their middleware audits the download as it
does any other), and every export is audited here with its counts and the zip's SHA-256.
"""

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from regulatory.selectors import site_for_user

from . import export


@require_safe
def consent_records_export(request, *, trial, code: str):
    site = site_for_user(user=request.user, trial=trial, code=code)
    if site is None:
        raise Http404
    try:
        handle, result = export.export_to_temporary_file(site, user=request.user, language=get_language())
    except export.ExportRefused as refused:
        # The refusal is audited; answering (not raising) keeps that audit entry in the request's transaction.
        messages.error(request, _("The export of the consent records was refused, because stored files are missing "
                                  "or altered: %(problems)s. Tell the administrator.")
                       % {"problems": "; ".join(str(problem) for problem in refused.problems)})
        return HttpResponseRedirect(trial.url + trial.reverse_subpage("participants", args=[site.code.lower()]))
    response = FileResponse(handle, as_attachment=True, filename=export.download_name(site),
                            content_type="application/zip")
    response["X-Content-SHA256"] = result.sha256
    return response
