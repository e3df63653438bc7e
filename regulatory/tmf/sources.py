"""What regulatory files in the TMF automatically: protocol versions, letters (with their attachments) and site
acknowledgements, as sources of the filing engine (`filing.FiledSource`), registered from `RegulatoryConfig.ready`."""

from django.utils import timezone
from django.utils.html import strip_tags

from regulatory.models import (
    CorrespondenceAttachment,
    CorrespondenceItemPage,
    ProtocolVersionPage,
    SiteAcknowledgement,
    TmfLevel,
)
from regulatory.tmf import filing, sheets
from regulatory.tmf.filing import Filing, Status, joined, stream_text


class ProtocolVersionSource(filing.FiledSource):
    """A published protocol version: the protocol or an amendment, superseded by any later published version."""

    model = ProtocolVersionPage
    artifacts = (filing.PROTOCOL, filing.PROTOCOL_AMENDMENT)
    refile_on_publish = True
    pdf_preview = False  # the Word file the sponsor attached, when there is one

    def objects(self, trial):
        return ProtocolVersionPage.objects.descendant_of(trial).live().specific()

    def filings(self, version):
        if not version.live:
            return []
        trial = version.trial
        newer = [v for v in ProtocolVersionPage.objects.live().descendant_of(trial)
                 if v.version_key > version.version_key]
        return [Filing(
            artifact=filing.PROTOCOL_AMENDMENT if version.is_amendment else filing.PROTOCOL, level=TmfLevel.TRIAL,
            title=version.title, document_date=version.version_date, version=version.version_number,
            status=Status.SUPERSEDED if newer else Status.CURRENT, series="protocol",
            search_text=joined(version.title, version.summary_of_changes, version.rationale,
                               version.affected_sections, version.non_substantial_justification,
                               stream_text(version.body)),
        )]

    def affected(self, version):
        trial = self.trial_of(version)
        return [version, *ProtocolVersionPage.objects.descendant_of(trial).live().exclude(pk=version.pk).specific()]

    def content(self, version, document, base):
        if version.document_id:
            name = version.document.file.name
            return filing.file_content(version.document.file, base + "." + name.rsplit(".", 1)[-1].lower())
        return filing.pdf_content(sheets.protocol_sheet(version, document), base)


class CorrespondenceItemSource(filing.FiledSource):
    """A published letter to or from the ethics committee or the authority, and each of its attachments, at
    country level (FR), on the artifact its correspondent and type give (`filing.CORRESPONDENCE_ARTIFACTS`)."""

    model = CorrespondenceItemPage
    artifacts = tuple(sorted({number for table in filing.CORRESPONDENCE_ARTIFACTS.values()
                              for number in table.values()}))
    refile_on_publish = True

    def objects(self, trial):
        return CorrespondenceItemPage.objects.descendant_of(trial).live().specific()

    def filings(self, item):
        if not item.live:
            return []
        submission = item.get_parent().specific
        table = filing.CORRESPONDENCE_ARTIFACTS[submission.correspondent]
        artifact = table.get(item.item_type, table[None])
        common = {"artifact": artifact, "level": TmfLevel.COUNTRY, "country": filing.NATIONAL_COUNTRY,
                  "document_date": item.date, "version": item.reference, "series": f"letter-{item.pk}"}
        filings = [Filing(title=item.title, search_text=joined(
            item.title, item.reference, item.correspondent, submission.title, submission.correspondent_name,
            strip_tags(item.body)), **common)]
        for attachment in item.attachments.select_related("document"):
            label = attachment.label or attachment.document.title
            filings.append(Filing(title=f"{item.title} — {label}", part=f"attachment-{attachment.pk}",
                                  search_text=joined(item.title, label, attachment.document.title), **common))
        return filings

    def affected(self, item):
        """The letter, and the versions it concerns: a favourable opinion turns a submitted version into an
        approved one, filed from then on (and the other versions of its document with it)."""
        from wagtail.models import Page

        linked = []
        for page in Page.objects.filter(pk__in=item.links.values("page_id")).specific():
            source = filing.source_of(page)
            if source is not None and source is not self:
                linked += source.affected(page)
        return [item, *linked]

    def content(self, item, document, base):
        if document.source_part.startswith("attachment-"):
            attachment = CorrespondenceAttachment.objects.select_related("document").get(
                pk=document.source_part.split("-", 1)[1])
            return filing.file_content(attachment.document.file,
                                       base + filing.extension_of(attachment.document.file.name))
        return filing.pdf_content(sheets.letter_sheet(item, document), base)


class SiteAcknowledgementSource(filing.FiledSource):
    """A site's acknowledgement of a protocol version in force there: its signature page, at site level."""

    model = SiteAcknowledgement
    artifacts = (filing.PROTOCOL_SIGNATURE_PAGE, filing.AMENDMENT_SIGNATURE_PAGE)
    refile_on_save = (("regulatory.SiteAcknowledgement", lambda ack: ack),)

    def objects(self, trial):
        return SiteAcknowledgement.objects.filter(activation__site__trial=trial).select_related(
            "activation__version", "activation__site", "acknowledged_by")

    def trial_of(self, ack):
        return ack.activation.site.trial

    def filings(self, ack):
        activation = ack.activation
        version, site = activation.version, activation.site
        return [Filing(
            artifact=filing.AMENDMENT_SIGNATURE_PAGE if version.is_amendment else filing.PROTOCOL_SIGNATURE_PAGE,
            level=TmfLevel.SITE, site=site, country=site.country,
            title=f"Prise de connaissance — {version.title} — {site.code}",
            document_date=timezone.localdate(ack.acknowledged_at), version=version.version_number,
            series=f"acknowledgement-{site.code}-{version.pk}",
            search_text=joined(version.title, site.code, site.name, ack.acknowledged_by.get_full_name()),
        )]

    def content(self, ack, document, base):
        return filing.pdf_content(sheets.acknowledgement_sheet(ack, document), base)


def register() -> None:
    for source in (ProtocolVersionSource(), CorrespondenceItemSource(), SiteAcknowledgementSource()):
        filing.register(source)
