"""StreamField blocks of a consent form. Their raw values are the neutral block format that the Word
import/export (`consent/docx/`) and the PDF renderer (`consent/pdf.py`) read and write."""

from django.utils.translation import gettext_lazy as _
from wagtail import blocks


class HeadingBlock(blocks.StructBlock):
    text = blocks.CharBlock(label=_("heading"), max_length=255)
    level = blocks.ChoiceBlock(choices=[(1, "1"), (2, "2"), (3, "3")], default=1, label=_("level"))

    class Meta:
        icon = "title"
        label = _("Heading")
        template = "consent/blocks/heading.html"


class ListBlock(blocks.StructBlock):
    style = blocks.ChoiceBlock(choices=[("bullet", _("Bullets")), ("numbered", _("Numbers"))], default="bullet",
                               label=_("style"))
    items = blocks.ListBlock(blocks.CharBlock(label=_("item")), label=_("items"))

    class Meta:
        icon = "list-ul"
        label = _("List")
        template = "consent/blocks/list.html"


class TableBlock(blocks.StructBlock):
    first_row_is_header = blocks.BooleanBlock(required=False, default=True, label=_("first row is a header"))
    rows = blocks.ListBlock(blocks.ListBlock(blocks.CharBlock(required=False, label=_("cell"))), label=_("rows"))

    class Meta:
        icon = "table"
        label = _("Table")
        template = "consent/blocks/table.html"


class ConsentStatementBlock(blocks.StructBlock):
    text = blocks.TextBlock(label=_("statement"))
    accept_label = blocks.CharBlock(label=_("accept label"), default="J'accepte")
    refuse_label = blocks.CharBlock(label=_("refuse label"), default="Je n'accepte pas")
    mandatory = blocks.BooleanBlock(required=False, default=True, label=_("mandatory for inclusion"))

    class Meta:
        icon = "tick-inverse"
        label = _("Consent statement")
        template = "consent/blocks/consent_statement.html"


class CheckboxBlock(blocks.StructBlock):
    text = blocks.TextBlock(label=_("text"))

    class Meta:
        icon = "tick"
        label = _("Tick box")
        template = "consent/blocks/checkbox.html"


class FillInBlock(blocks.StructBlock):
    label = blocks.CharBlock(label=_("label"), max_length=255)

    class Meta:
        icon = "edit"
        label = _("Blank to fill in")
        template = "consent/blocks/fill_in.html"


class SignatureBlock(blocks.StructBlock):
    role = blocks.ChoiceBlock(choices=[
        ("participant", _("Participant")), ("surrogate", _("Surrogate (relative or trusted person)")),
        ("investigator", _("Investigator")), ("witness", _("Witness")),
    ], label=_("signer"))
    label = blocks.CharBlock(label=_("label"), max_length=255)

    class Meta:
        icon = "user"
        label = _("Signature block")
        template = "consent/blocks/signature.html"


class PageBreakBlock(blocks.StaticBlock):
    class Meta:
        icon = "horizontalrule"
        label = _("Page break")
        admin_text = _("A new page starts here in the printed form.")
        template = "consent/blocks/page_break.html"


class ConsentBodyBlock(blocks.StreamBlock):
    heading = HeadingBlock()
    paragraph = blocks.RichTextBlock(features=["bold", "italic"], label=_("Paragraph"), icon="pilcrow")
    list = ListBlock()
    table = TableBlock()
    consent_statement = ConsentStatementBlock()
    checkbox = CheckboxBlock()
    fill_in = FillInBlock()
    signature = SignatureBlock()
    page_break = PageBreakBlock()

    class Meta:
        label = _("Form content")


def neutral(stream_value) -> list[dict]:
    """A StreamField value in the neutral block format: {"type", "value"} with plain lists and strings
    (Wagtail's own stored form wraps list items in {"type", "value", "id"} dicts and carries block ids)."""
    representation = stream_value.stream_block.get_api_representation(stream_value)
    return [{"type": block["type"], "value": block["value"]} for block in representation]
