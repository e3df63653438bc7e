"""Correspondence with the ethics committee (CPP) and the competent authority (ANSM), grouped in submissions."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from wagtail.admin.panels import (
    FieldPanel,
    FieldRowPanel,
    InlinePanel,
    MultiFieldPanel,
    PageChooserPanel,
    TitleFieldPanel,
)
from wagtail.fields import RichTextField
from wagtail.models import Orderable, Page
from wagtail.search import index

from .in_trial import InTrial
from .pagerules import TITLE_PANELS, TrialPageRules


class Correspondent(models.TextChoices):
    ETHICS_COMMITTEE = "ethics_committee", _("Ethics committee (CPP)")
    AUTHORITY = "authority", _("Competent authority (ANSM)")


class Direction(models.TextChoices):
    SENT = "sent", _("Sent")
    RECEIVED = "received", _("Received")


class ItemType(models.TextChoices):
    INITIAL_SUBMISSION = "initial_submission", _("Initial submission")
    MODIFICATION_SUBMISSION = "modification_submission", _("Substantial-modification submission")
    REQUEST_FOR_INFORMATION = "request_for_information", _("Request for information")
    RESPONSE = "response", _("Response")
    FAVOURABLE_OPINION = "favourable_opinion", _("Favourable opinion")
    UNFAVOURABLE_OPINION = "unfavourable_opinion", _("Unfavourable opinion")
    NOTIFICATION = "notification", _("Notification")
    ANNUAL_SAFETY_REPORT = "annual_safety_report", _("Annual safety report")
    END_OF_TRIAL = "end_of_trial", _("End-of-trial notification")
    WITHDRAWAL = "withdrawal", _("Withdrawal of the submission")
    OTHER = "other", _("Other")


RECEIVED_ONLY = {ItemType.REQUEST_FOR_INFORMATION, ItemType.FAVOURABLE_OPINION, ItemType.UNFAVOURABLE_OPINION}
SENT_ONLY = {ItemType.INITIAL_SUBMISSION, ItemType.MODIFICATION_SUBMISSION, ItemType.RESPONSE,
             ItemType.ANNUAL_SAFETY_REPORT, ItemType.END_OF_TRIAL, ItemType.WITHDRAWAL}
DECISIONS = {ItemType.FAVOURABLE_OPINION: "approved", ItemType.UNFAVOURABLE_OPINION: "rejected",
             ItemType.WITHDRAWAL: "withdrawn"}


class SubmissionStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class CorrespondenceIndexPage(TrialPageRules, InTrial, Page):
    """The regulatory correspondence of one trial; each child is a submission and its thread."""

    parent_page_types = ["regulatory.TrialPage"]
    subpage_types = ["regulatory.SubmissionPage"]
    max_count_per_parent = 1
    trial_wide_only = True  # site staff never read regulatory correspondence

    class Meta:
        verbose_name = _("regulatory correspondence")
        verbose_name_plural = _("regulatory correspondence")

    def get_context(self, request, *args, **kwargs):
        from regulatory import selectors

        context = super().get_context(request, *args, **kwargs)
        context["trial"] = self.get_parent().specific
        context["submissions"] = selectors.submissions(index=self)
        return context


class SubmissionPage(TrialPageRules, InTrial, Page):
    """A submission to the CPP or the ANSM; its letters are its children and its status derives from them."""

    correspondent = models.CharField(_("addressed to"), max_length=20, choices=Correspondent.choices)
    correspondent_name = models.CharField(_("committee or authority"), max_length=200,
                                          help_text=_("e.g. the CPP that was drawn by lot, or ANSM."))
    reference = models.CharField(_("reference"), max_length=100, blank=True)

    parent_page_types = ["regulatory.CorrespondenceIndexPage"]
    subpage_types = ["regulatory.CorrespondenceItemPage"]

    content_panels = [
        *TITLE_PANELS,
        FieldRowPanel([FieldPanel("correspondent"), FieldPanel("correspondent_name"), FieldPanel("reference")]),
    ]

    class Meta:
        verbose_name = _("submission")
        verbose_name_plural = _("submissions")

    def items(self):
        return CorrespondenceItemPage.objects.child_of(self).live().order_by("date", "path")

    @property
    def status(self) -> str:
        status = SubmissionStatus.PENDING
        for item in self.items():
            status = DECISIONS.get(item.item_type, status)
        return status

    def get_status_display(self) -> str:
        return str(SubmissionStatus(self.status).label)

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["trial"] = self.trial
        context["items"] = self.items().prefetch_related("attachments__document", "links__page")
        return context


class CorrespondenceItemPage(TrialPageRules, InTrial, Page):
    """One letter, sent or received. Its title is its subject."""

    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices)
    date = models.DateField(_("date"))
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    correspondent = models.CharField(_("correspondent"), max_length=200)
    item_type = models.CharField(_("type"), max_length=32, choices=ItemType.choices)
    body = RichTextField(_("body"), blank=True, features=["bold", "italic", "ol", "ul"])

    parent_page_types = ["regulatory.SubmissionPage"]
    subpage_types: list[str] = []

    content_panels = [
        TitleFieldPanel("title", heading=_("Subject")),
        FieldPanel("slug"),
        MultiFieldPanel([
            FieldRowPanel([FieldPanel("direction"), FieldPanel("date"), FieldPanel("item_type")]),
            FieldRowPanel([FieldPanel("correspondent"), FieldPanel("reference")]),
        ], heading=_("Letter")),
        FieldPanel("body"),
        InlinePanel("links", heading=_("Versions concerned"), label=_("Version")),
        InlinePanel("attachments", heading=_("Attachments"), label=_("Attachment")),
    ]
    search_fields = [*Page.search_fields, index.SearchField("body"), index.SearchField("reference")]

    class Meta:
        verbose_name = _("correspondence item")
        verbose_name_plural = _("correspondence items")

    def clean(self):
        super().clean()
        if self.item_type in RECEIVED_ONLY and self.direction != Direction.RECEIVED:
            raise ValidationError({"direction": _("This type of letter is received, not sent.")})
        if self.item_type in SENT_ONLY and self.direction != Direction.SENT:
            raise ValidationError({"direction": _("This type of letter is sent, not received.")})


class CorrespondenceLink(Orderable):
    """A version (protocol now, consent forms later) that a letter concerns."""

    item = ParentalKey(CorrespondenceItemPage, on_delete=models.CASCADE, related_name="links")
    page = models.ForeignKey("wagtailcore.Page", on_delete=models.PROTECT, related_name="correspondence_links",
                             verbose_name=_("version"))

    panels = [PageChooserPanel("page", page_type=["regulatory.ProtocolVersionPage", "consent.ConsentFormVersionPage"])]

    class Meta(Orderable.Meta):
        verbose_name = _("version concerned")
        verbose_name_plural = _("versions concerned")

    def __str__(self):
        return str(self.page)


class CorrespondenceAttachment(Orderable):
    item = ParentalKey(CorrespondenceItemPage, on_delete=models.CASCADE, related_name="attachments")
    document = models.ForeignKey("wagtaildocs.Document", on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("document"))
    label = models.CharField(_("label"), max_length=200, blank=True)

    panels = [FieldPanel("document"), FieldPanel("label")]

    class Meta(Orderable.Meta):
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self):
        return self.label or self.document.title
