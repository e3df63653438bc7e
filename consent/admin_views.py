"""Wagtail admin views of the consent app: compare two versions; import a Word file as a new draft."""

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from regulatory import permissions
from regulatory.forms import MAX_ID, PageChoiceField

from . import compare
from .models import ConsentFormVersionPage
from .models.forms import version_validator


def _readable_versions(user):
    versions = ConsentFormVersionPage.objects.none()
    for trial in permissions.trials_read_trial_wide(user):
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
        if left.trial.pk != right.trial.pk:
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
    if not permissions.can_read_trial_wide(request.user, version.trial):
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
                                     validators=[version_validator], help_text=_("Empty: the next major version."))
    version_date = forms.DateField(label=_("Version date"), required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}))
    file = forms.FileField(label=_("Word file (.docx)"),
                           widget=forms.ClearableFileInput(attrs={"accept": ".docx", "data-import-file": ""}))
    title = forms.CharField(
        label=_("Title of the version"), required=False, max_length=255,
        widget=forms.TextInput(attrs={"data-import-title": ""}),
        help_text=_("Proposed from the document once you choose the file (its first title, else the form and its "
                    "version): check it. It prints at the top of every copy."))
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

    def add_service_error(self, error: ValidationError) -> None:
        """A service's ValidationError on this form: on the field it names when the form has it, else on top
        (a page's own fields, such as its slug, are not fields of this form)."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, errors in error.error_dict.items():
            self.add_error(field if field in self.fields else None, errors)


def import_view(request):
    """Import a Word file as a new draft. The title is confirmed by the sponsor: proposed from the document when
    the file is chosen (`import_title_view`, from import.js), or, when the form comes without one, proposed here
    and shown for confirmation; nothing is written until a title is given."""
    from django.contrib import messages
    from django.shortcuts import redirect

    from . import services
    from .docx import DocxRefused

    form = ImportForm(request.POST or None, request.FILES or None, user=request.user)
    context = {"header_title": _("Import a Word consent form"), "page_title": _("Import")}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        content = data["file"].read()
        try:
            if not data["title"].strip():
                number = data["version_number"] or services.next_version_number(
                    trial=data["trial"], kind=data["kind"], language=data["language"])
                services.check_new_version_number(trial=data["trial"], kind=data["kind"],
                                                  language=data["language"], version_number=number)
                proposal = services.proposed_title(
                    data=content, kind=data["kind"], language=data["language"], version_number=number,
                    allow_tracked_changes=bool(data["accept_tracked_changes"].strip()))
                form = ImportForm(initial={**{name: value for name, value in data.items() if name != "file"},
                                           "trial": data["trial"].pk, "title": proposal}, user=request.user)
                context["title_to_confirm"] = proposal
            else:
                version, notes = services.consent_version_import(
                    actor=request.user, trial=data["trial"], data=content, filename=data["file"].name,
                    kind=data["kind"], language=data["language"], version_number=data["version_number"],
                    version_date=data["version_date"], title=data["title"],
                    accept_tracked_changes_reason=data["accept_tracked_changes"])
        except DocxRefused as error:
            form.add_error("file", error.reason)
        except ValidationError as error:
            form.add_service_error(error)
        except PermissionDenied:
            form.add_error("trial", _("You do not manage this trial."))
        else:
            if "title_to_confirm" not in context:
                messages.success(request, _("Imported as a new draft: %(version)s.") % {"version": version})
                for note in notes:
                    messages.warning(request, note)
                return redirect("wagtailadmin_pages:edit", version.pk)
    context["form"] = form
    return TemplateResponse(request, "consent/admin/import.html", context)


@require_POST
def import_title_view(request):
    """The title the import form proposes for the file just chosen (JSON); reads the file, writes nothing."""
    from regulatory.models import ConsentKind

    from . import services
    from .docx import DocxRefused
    from .models import Language

    managed = permissions.trials_managed(request.user)
    if not managed.exists():
        raise PermissionDenied
    upload = request.FILES.get("file")
    kind, language = request.POST.get("kind", ""), request.POST.get("language", "")
    if upload is None or kind not in ConsentKind.values or language not in Language.values:
        return JsonResponse({"error": str(_("Choose a Word file, a form and a language."))}, status=400)
    if upload.size > MAX_UPLOAD_BYTES:
        return JsonResponse({"error": str(_("This file is too large (20 MB at most)."))}, status=400)
    number = request.POST.get("version_number", "").strip()
    trial_id = request.POST.get("trial", "")
    trial = managed.filter(pk=int(trial_id)).first() if trial_id.isdigit() and int(trial_id) <= MAX_ID else None
    try:
        version_validator(number)
    except ValidationError:
        number = services.next_version_number(trial=trial, kind=kind, language=language) if trial else "1.0"
    try:
        title = services.proposed_title(data=upload.read(), kind=kind, language=language, version_number=number)
    except DocxRefused as error:
        return JsonResponse({"error": error.reason}, status=400)
    return JsonResponse({"title": title})


def export_view(request, pk: int):
    from . import services

    version = version_or_404(request, pk)
    response = HttpResponse(services.consent_version_export(version),
                            content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    response["Content-Disposition"] = (f'attachment; filename="{version.kind}-{version.language}-'
                                       f'v{version.version_number}.docx"')
    return response
