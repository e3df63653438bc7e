from django.utils.translation import gettext_lazy as _
from wagtail import blocks


class SectionHeadingBlock(blocks.StructBlock):
    number = blocks.CharBlock(label=_("number"), required=False, max_length=20)
    text = blocks.CharBlock(label=_("heading"), max_length=255)

    class Meta:
        icon = "title"
        label = _("Section heading")
        template = "regulatory/blocks/section_heading.html"


class ProtocolBodyBlock(blocks.StreamBlock):
    heading = SectionHeadingBlock()
    paragraph = blocks.RichTextBlock(features=["bold", "italic", "ol", "ul", "link"], label=_("Paragraph"),
                                     icon="pilcrow")

    class Meta:
        label = _("Protocol text")
