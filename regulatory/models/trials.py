from typing import ClassVar

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase
from modelcluster.fields import ParentalKey
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel, MultiFieldPanel
from wagtail.contrib.routable_page.models import RoutablePageMixin, path
from wagtail.models import Orderable, Page
from wagtail.search import index

from .pagerules import TITLE_PANELS, TrialPageRules

nct_validator = RegexValidator(r"^NCT\d{8}$", _("An NCT number is NCT followed by eight digits."))
eu_ct_validator = RegexValidator(
    r"^\d{4}-5\d{5}-\d{2}-\d{2}$", _("An EU CT number looks like 2023-500123-12-00.")
)


class Phase(models.TextChoices):
    EARLY_PHASE_1 = "EARLY_PHASE1", _("Early phase 1")
    PHASE_1 = "PHASE1", _("Phase 1")
    PHASE_1_2 = "PHASE1_PHASE2", _("Phase 1/2")
    PHASE_2 = "PHASE2", _("Phase 2")
    PHASE_2_3 = "PHASE2_PHASE3", _("Phase 2/3")
    PHASE_3 = "PHASE3", _("Phase 3")
    PHASE_4 = "PHASE4", _("Phase 4")
    NOT_APPLICABLE = "NA", _("Not applicable")


class TrialStatus(models.TextChoices):
    NOT_YET_RECRUITING = "NOT_YET_RECRUITING", _("Not yet recruiting")
    RECRUITING = "RECRUITING", _("Recruiting")
    ACTIVE_NOT_RECRUITING = "ACTIVE_NOT_RECRUITING", _("Active, not recruiting")
    SUSPENDED = "SUSPENDED", _("Suspended")
    COMPLETED = "COMPLETED", _("Completed")
    TERMINATED = "TERMINATED", _("Terminated")
    WITHDRAWN = "WITHDRAWN", _("Withdrawn")


def default_consent_kinds() -> list[str]:
    return ["patient", "surrogate", "emergency", "continuation"]


class TrialPage(TrialPageRules, RoutablePageMixin, Page):
    """A clinical trial. Its protocol, consent forms and correspondence live below it in the page tree."""

    acronym = models.CharField(_("acronym"), max_length=40, blank=True)
    nct_number = models.CharField(
        _("NCT number"), max_length=11, unique=True, validators=[nct_validator],
        help_text=_("ClinicalTrials.gov identifier, e.g. NCT07063680."),
    )
    eu_ct_number = models.CharField(
        _("EU CT number"), max_length=17, blank=True, validators=[eu_ct_validator],
        help_text=_("Clinical Trials Information System number, when the trial has one."),
    )
    org_study_id = models.CharField(_("sponsor's study identifier"), max_length=80, blank=True)
    sponsor_name = models.CharField(_("sponsor"), max_length=200)
    phase = models.CharField(_("phase"), max_length=16, choices=Phase.choices)
    target_enrolment = models.PositiveIntegerField(
        _("target enrolment"), validators=[MinValueValidator(1)]
    )
    status = models.CharField(
        _("status"), max_length=24, choices=TrialStatus.choices, default=TrialStatus.NOT_YET_RECRUITING
    )
    start_date = models.DateField(_("start date"))
    completion_date = models.DateField(_("completion date"), null=True, blank=True)
    condition = models.CharField(_("condition studied"), max_length=255, blank=True)
    design_summary = models.TextField(_("design summary"), blank=True)
    allowed_consent_kinds = models.JSONField(
        _("consent kinds the protocol allows"), default=default_consent_kinds, blank=True,
        help_text=_("patient, surrogate, emergency, continuation"))
    continuation_deadline_days = models.PositiveSmallIntegerField(
        _("days to obtain continuation consent"), default=7,
        help_text=_("After a surrogate or emergency inclusion, the patient is asked as soon as able, within this."))
    reconsent_deadline_days = models.PositiveSmallIntegerField(
        _("days to re-consent"), default=30,
        help_text=_("After a newer version of a form takes effect at a site."))
    delegation_requires_training = models.BooleanField(
        _("delegations need the protocol acknowledged"), default=False,
        help_text=_("A delegation takes effect only once the site has acknowledged the protocol version in force."))

    parent_page_types = ["cms.HomePage"]
    subpage_types = ["regulatory.ProtocolPage", "regulatory.CorrespondenceIndexPage", "consent.ConsentFormIndexPage"]

    content_panels = [
        *TITLE_PANELS,
        MultiFieldPanel(
            [
                FieldRowPanel([FieldPanel("acronym"), FieldPanel("nct_number"), FieldPanel("eu_ct_number")]),
                FieldRowPanel([FieldPanel("org_study_id"), FieldPanel("sponsor_name")]),
            ],
            heading=_("Identification"),
        ),
        MultiFieldPanel(
            [
                FieldRowPanel([FieldPanel("phase"), FieldPanel("status"), FieldPanel("target_enrolment")]),
                FieldRowPanel([FieldPanel("start_date"), FieldPanel("completion_date")]),
                FieldPanel("condition"),
                FieldPanel("design_summary"),
            ],
            heading=_("Design"),
        ),
        MultiFieldPanel(
            [
                FieldPanel("allowed_consent_kinds"),
                FieldRowPanel([FieldPanel("continuation_deadline_days"), FieldPanel("reconsent_deadline_days")]),
                FieldPanel("delegation_requires_training"),
            ],
            heading=_("Consent pathway"),
        ),
        InlinePanel("arms", heading=_("Arms"), label=_("Arm")),
    ]
    search_fields = [
        *Page.search_fields,
        index.SearchField("acronym"),
        index.SearchField("nct_number"),
        index.SearchField("sponsor_name"),
        index.SearchField("condition"),
    ]

    class Meta:
        verbose_name = _("trial")
        verbose_name_plural = _("trials")
        permissions = [
            ("access_trial", _("Consult the whole trial, every site included")),
            ("manage_trial", _("Manage the trial: its page, its sites and their teams")),
        ]

    def __str__(self):
        return f"{self.nct_number} — {self.acronym}" if self.acronym else self.nct_number

    @property
    def short_name(self) -> str:
        return self.acronym or self.nct_number

    def clean(self):
        super().clean()
        if self.completion_date and self.start_date and self.completion_date < self.start_date:
            raise ValidationError({"completion_date": _("The completion date precedes the start date.")})

    # Sub-pages served under the trial's URL by views of apps above regulatory (`add_routes`).
    _added_routes: ClassVar[list] = []

    @classmethod
    def add_routes(cls, patterns) -> None:
        """Serve `patterns` (Django `path()`s whose view takes the trial page first, then the request) under the
        trial's URL, reversed like the trial's own sub-pages. Called by other apps from their AppConfig.ready()."""
        names = {route.name for route in cls._added_routes}
        cls._added_routes.extend(route for route in patterns if route.name not in names)
        if "_routablepage_urlresolver" in cls.__dict__:  # built before: rebuilt with the new routes when next asked
            del cls._routablepage_urlresolver

    @classmethod
    def get_subpage_urls(cls):
        return (*super().get_subpage_urls(), *cls._added_routes)

    def get_context(self, request, *args, **kwargs):
        from regulatory import permissions, selectors
        from regulatory.models import CorrespondenceIndexPage, ProtocolPage

        context = super().get_context(request, *args, **kwargs)
        context["sites"] = selectors.sites_for_user(user=request.user, trial=self)
        context["my_roles"] = selectors.roles_of_user(user=request.user, trial=self)
        context["protocol"] = ProtocolPage.objects.child_of(self).live().first()
        context["correspondence"] = CorrespondenceIndexPage.objects.child_of(self).live().first()
        context["consent_forms"] = next((p for p in self.get_children().live().specific()
                                         if getattr(p, "trial_wide_only", False)
                                         and p._meta.model_name == "consentformindexpage"), None)
        context["trial_wide"] = permissions.can_read_trial_wide(request.user, self)
        context["can_manage"] = permissions.can_manage_trial(request.user, self)
        return context

    @path("sites/<str:code>/", name="site_detail")
    def site_detail(self, request, code):
        from regulatory import views

        return views.site_detail(request, trial=self, code=code)

    @path("sites/<str:code>/acknowledge/<int:activation_id>/", name="acknowledge")
    def acknowledge(self, request, code, activation_id):
        from regulatory import views

        return views.acknowledge(request, trial=self, code=code, activation_id=activation_id)

    # sites/<code>/consent-forms/ (the site's current forms) is a plain Django URL (`consent.urls`,
    # `consent.views.current_forms`): the page site staff open most, spared Wagtail's routing (bench/RESULTS.md (c)).
    # The other consent sub-pages (printing, participants, consent records) are routes consent adds from its
    # AppConfig.ready() (`add_routes`, `consent.urls.trial_page_urlpatterns`).

    @path("dashboard/", name="dashboard")
    def dashboard(self, request):
        from regulatory import views

        return views.dashboard(request, trial=self)

    @path("acknowledgements/", name="acknowledgement_matrix")
    def acknowledgement_matrix(self, request):
        from regulatory import views

        return views.acknowledgement_matrix(request, trial=self)

    @path("acknowledgements/<int:activation_id>/remind/", name="remind")
    def remind(self, request, activation_id):
        from regulatory import views

        return views.remind(request, trial=self, activation_id=activation_id)

    @path("activations/new/", name="activation_new")
    def activation_new(self, request):
        from regulatory import views

        return views.activation_new(request, trial=self)


class TrialArm(Orderable):
    class ArmType(models.TextChoices):
        EXPERIMENTAL = "EXPERIMENTAL", _("Experimental")
        ACTIVE_COMPARATOR = "ACTIVE_COMPARATOR", _("Active comparator")
        PLACEBO_COMPARATOR = "PLACEBO_COMPARATOR", _("Placebo comparator")
        NO_INTERVENTION = "NO_INTERVENTION", _("No intervention")
        OTHER = "OTHER", _("Other")

    trial = ParentalKey(TrialPage, on_delete=models.CASCADE, related_name="arms")
    label = models.CharField(_("label"), max_length=120)
    arm_type = models.CharField(_("type"), max_length=24, choices=ArmType.choices)
    intervention = models.TextField(_("intervention"))

    panels = [FieldPanel("label"), FieldPanel("arm_type"), FieldPanel("intervention")]

    class Meta(Orderable.Meta):
        verbose_name = _("arm")
        verbose_name_plural = _("arms")

    def __str__(self):
        return self.label


class TrialUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(TrialPage, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = _("user permission on a trial")
        verbose_name_plural = _("user permissions on trials")


class TrialGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(TrialPage, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = _("group permission on a trial")
        verbose_name_plural = _("group permissions on trials")
