"""Wagtail admin views of the consent app: compare two versions; import a Word file as a new draft."""

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from regulatory import permissions
from regulatory.forms import MAX_ID, PageChoiceField
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
    left = PageChoiceField(queryset=None, label=_("Older version"))
    right = PageChoiceField(queryset=None, label=_("Newer version"))

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
    if pk > MAX_ID:
        raise Http404
    version = get_object_or_404(_readable_versions(request.user), pk=pk)
    if not permissions.can_read_trial_wide(request.user, TrialPage.objects.ancestor_of(version).get()):
        raise PermissionDenied
    return version


def version_pdf_view(request, pk: int):
    """Any version as PDF from the admin, drafts included (marked, never signed unless approved)."""
    from . import views

    return views.version_pdf(request, version=version_or_404(request, pk))


MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class ImportForm(forms.Form):
    trial = PageChoiceField(queryset=None, label=_("Trial"))
    kind = forms.ChoiceField(label=_("Form"), choices=())
    language = forms.ChoiceField(label=_("Language"), choices=())
    version_number = forms.CharField(label=_("Version number"), required=False, max_length=7,
                                     help_text=_("Empty: the next major version."))
    version_date = forms.DateField(label=_("Version date"), required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}))
    file = forms.FileField(label=_("Word file (.docx)"))
    accept_tracked_changes = forms.CharField(
        label=_("Keep tracked changes and comments, because…"), required=False, max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Only if the file still has tracked changes or comments and you accept them as they stand: "
                    "the reason is recorded with the version. Otherwise such a file is refused."))

    def __init__(self, *args, user, **kwargs):
        from regulatory.models import ConsentKind

        from .models import Language

        super().__init__(*args, **kwargs)
        self.fields["trial"].queryset = permissions.trials_managed(user).order_by("nct_number")
        self.fields["kind"].choices = ConsentKind.choices
        self.fields["language"].choices = Language.choices

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("This file is too large (20 MB at most)."))
        return upload


def import_view(request):
    from django.contrib import messages
    from django.core.exceptions import ValidationError
    from django.shortcuts import redirect

    from . import services
    from .docx import DocxRefused

    form = ImportForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            version, unmapped = services.consent_version_import(
                actor=request.user, trial=data["trial"], data=data["file"].read(), filename=data["file"].name,
                kind=data["kind"], language=data["language"], version_number=data["version_number"],
                version_date=data["version_date"], accept_tracked_changes_reason=data["accept_tracked_changes"])
        except DocxRefused as error:
            form.add_error("file", error.reason)
        except ValidationError as error:
            form.add_error(None, error)
        except PermissionDenied:
            form.add_error("trial", _("You do not manage this trial."))
        else:
            messages.success(request, _("Imported as a new draft: %(version)s.") % {"version": version})
            for note in unmapped:
                messages.warning(request, _("Not mapped: %(note)s") % {"note": note})
            return redirect("wagtailadmin_pages:edit", version.pk)
    return TemplateResponse(request, "consent/admin/import.html", {
        "form": form, "header_title": _("Import a Word consent form"), "page_title": _("Import")})


def export_view(request, pk: int):
    from . import services

    version = version_or_404(request, pk)
    response = HttpResponse(services.consent_version_export(version),
                            content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    response["Content-Disposition"] = (f'attachment; filename="{version.kind}-{version.language}-'
                                       f'v{version.version_number}.docx"')
    return response
