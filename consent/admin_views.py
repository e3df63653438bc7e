"""Wagtail admin views of the consent app: compare two versions; import a Word file as a new draft."""

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from regulatory import permissions
from regulatory.models import TrialPage

from . import compare
from .models import ConsentFormVersionPage


def _readable_versions(user):
    trials = [t for t in permissions.trials_accessible(user) if permissions.can_read_trial_wide(user, t)]
    versions = ConsentFormVersionPage.objects.none()
    for trial in trials:
        versions |= ConsentFormVersionPage.objects.descendant_of(trial)
    return versions


class CompareForm(forms.Form):
    left = forms.ModelChoiceField(queryset=None, label=_("Older version"))
    right = forms.ModelChoiceField(queryset=None, label=_("Newer version"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        versions = _readable_versions(user).order_by("kind", "language", "version_number")
        self.fields["left"].queryset = versions
        self.fields["right"].queryset = versions


def compare_view(request):
    form = CompareForm(request.GET or None, user=request.user)
    context = {"form": form, "header_title": _("Compare consent-form versions"), "page_title": _("Compare")}
    if form.is_bound and form.is_valid():
        left, right = form.cleaned_data["left"], form.cleaned_data["right"]
        if TrialPage.objects.ancestor_of(left).get().pk != TrialPage.objects.ancestor_of(right).get().pk:
            form.add_error(None, _("Both versions must belong to the same trial."))
        else:
            comparison = compare.compare_versions(left, right)
            if request.GET.get("format") == "docx":
                response = HttpResponse(
                    compare.comparison_docx(left, right, comparison),
                    content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
                name = f"comparaison-{left.kind}-v{left.version_number}-v{right.version_number}.docx"
                response["Content-Disposition"] = f'attachment; filename="{name}"'
                return response
            context.update(left=left, right=right, comparison=comparison, export_query=request.GET.urlencode())
    return TemplateResponse(request, "consent/admin/compare.html", context)


def version_or_404(request, pk: int) -> ConsentFormVersionPage:
    version = get_object_or_404(_readable_versions(request.user), pk=pk)
    if not permissions.can_read_trial_wide(request.user, TrialPage.objects.ancestor_of(version).get()):
        raise PermissionDenied
    return version


def version_pdf_view(request, pk: int):
    """Any version as PDF from the admin, drafts included (marked, never signed unless approved)."""
    from . import views

    return views.version_pdf(request, version=version_or_404(request, pk))
