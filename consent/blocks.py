"""StreamField blocks of a consent form. Their raw values are the neutral block format that the Word
import/export (`consent/docx/`) and the PDF renderer (`consent/pdf/`) read and write."""

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
    # A label may be a whole declaration of several lines ("I have read… My signature also indicates…"): no limit.
    label = blocks.TextBlock(label=_("label"))

    class Meta:
        icon = "edit"
        label = _("Blank to fill in")
        template = "consent/blocks/fill_in.html"


class SignatureBlock(blocks.StructBlock):
    role = blocks.ChoiceBlock(choices=[
        ("participant", _("Participant")), ("surrogate", _("Surrogate (relative or trusted person)")),
        ("investigator", _("Investigator")), ("witness", _("Witness")),
    ], label=_("signer"))
    label = blocks.CharBlock(label=_("label"))

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


# --- The ceremony: who signs, in which order, and what the signer is asked to check they understood ----------------

SIGNER_ROLES = [
    ("participant", _("Participant")),
    ("representative", _("Legal representative, relative or trusted person")),
    ("impartial_witness", _("Impartial witness")),
    ("interpreter", _("Interpreter")),
    ("investigator", _("Investigator's countersignature (who obtained consent)")),
]
HAND_SIGNERS = ("participant", "representative", "impartial_witness", "interpreter")


class CeremonySignerBlock(blocks.StructBlock):
    """One signer of the consent ceremony; the stream's order is the order in which they sign."""

    role = blocks.ChoiceBlock(choices=SIGNER_ROLES, label=_("signer"))
    requirement = blocks.ChoiceBlock(choices=[
        ("required", _("Required")),
        ("optional", _("Optional")),
        ("if_cannot_read", _("Required when the participant or the representative cannot read")),
    ], default="required", label=_("required?"))
    later_within_hours = blocks.IntegerBlock(
        required=False, min_value=0, max_value=720, label=_("countersignature may be given later, within (hours)"),
        help_text=_("Investigator's countersignature only: empty or 0 means at the time of the consent."))

    class Meta:
        icon = "user"
        label = _("Signer")

    def clean(self, value):
        from django.core.exceptions import ValidationError
        from wagtail.blocks.struct_block import StructBlockValidationError

        value = super().clean(value)
        errors = {}
        if value.get("later_within_hours") and value["role"] != "investigator":
            errors["later_within_hours"] = ValidationError(_("Only the investigator's countersignature may be "
                                                             "given later."))
        if value["requirement"] == "if_cannot_read" and value["role"] != "impartial_witness":
            errors["requirement"] = ValidationError(_("Only an impartial witness is required because someone "
                                                      "cannot read."))
        if errors:
            raise StructBlockValidationError(block_errors=errors)
        return value


class CeremonySignersBlock(blocks.StreamBlock):
    signer = CeremonySignerBlock()

    class Meta:
        label = _("Signers")

    def clean(self, value):
        from django.core.exceptions import ValidationError

        value = super().clean(value)
        roles = [child.value["role"] for child in value]
        for role in set(roles):
            if roles.count(role) > 1:
                raise ValidationError(_("Each signer appears once."))
        if "investigator" in roles and roles[-1] != "investigator":
            raise ValidationError(_("The investigator's countersignature comes last."))
        return value


class ComprehensionQuestionBlock(blocks.StructBlock):
    """A question the signer answers before signing (teach-back, FDA eIC guidance 2016): a wrong answer is shown
    with its explanation, and discussed before signing."""

    question = blocks.TextBlock(label=_("question"))
    choices = blocks.ListBlock(blocks.CharBlock(label=_("choice"), max_length=300), min_num=2, max_num=8,
                               label=_("choices"))
    right_answer = blocks.IntegerBlock(min_value=1, max_value=8, label=_("number of the right choice"),
                                       help_text=_("1 for the first choice, 2 for the second…"))
    explanation = blocks.TextBlock(label=_("explanation to give when the answer is wrong"))

    class Meta:
        icon = "help"
        label = _("Comprehension question")

    def clean(self, value):
        from django.core.exceptions import ValidationError
        from wagtail.blocks.struct_block import StructBlockValidationError

        value = super().clean(value)
        if value["right_answer"] > len(value["choices"]):
            raise StructBlockValidationError(block_errors={"right_answer": ValidationError(
                _("The right choice must be one of the choices (1 to %(n)s).") % {"n": len(value["choices"])})})
        return value


class ComprehensionBlock(blocks.StreamBlock):
    question = ComprehensionQuestionBlock()

    class Meta:
        label = _("Comprehension questions")
