"""The signer's hand signature as a PNG: drawn on the pad, typed, or a scan of the signed paper form."""

import base64
import binascii
import io

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

MAX_SIGNATURE_IMAGE_BYTES = 2 * 1024 * 1024
MAX_TYPED_SIGNATURE = 120


def decode_drawn_signature(data_url: str) -> bytes:
    """The signature pad's PNG (a data: URL), checked to be a real, reasonably small image."""
    prefix = "data:image/png;base64,"
    if not data_url.startswith(prefix):
        raise ValidationError(_("The drawn signature is not a PNG image."))
    try:
        raw = base64.b64decode(data_url[len(prefix):], validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValidationError(_("The drawn signature could not be read.")) from error
    return normalise_signature_image(raw)


def typed_signature_image(name: str) -> bytes:
    """The signer's full name, typed on the keyboard (the way to sign without drawing), as the PNG the signed PDF
    shows where a drawn signature would be; the record says it was typed (`SignatureSource.TYPED`)."""
    import unicodedata

    from PIL import Image, ImageDraw, ImageFont

    from cms.pdf_fonts import FONT_DIR

    name = " ".join(str(name).split())
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise ValidationError(_("The typed name holds characters that cannot be printed."))
    if not name or len(name) > MAX_TYPED_SIGNATURE:
        raise ValidationError(_("Type the signer's full name (%(max)s characters at most).")
                              % {"max": MAX_TYPED_SIGNATURE})
    font = ImageFont.truetype(str(FONT_DIR / "DejaVuSans.ttf"), 40)
    left, top, right, bottom = font.getbbox(name)
    image = Image.new("RGB", (max(right - left, 1) + 40, max(bottom - top, 1) + 30), "white")
    ImageDraw.Draw(image).text((20 - left, 15 - top), name, font=font, fill=(16, 36, 62))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def normalise_signature_image(raw: bytes) -> bytes:
    """Any PNG or JPEG (a drawing or a scan) re-encoded as a flat PNG; anything else is refused."""
    from PIL import Image, UnidentifiedImageError

    if len(raw) > MAX_SIGNATURE_IMAGE_BYTES:
        raise ValidationError(_("The signature image is too large (2 MB at most)."))
    try:
        with Image.open(io.BytesIO(raw)) as image:
            if image.format not in ("PNG", "JPEG") or image.width * image.height > 25_000_000:
                raise ValidationError(_("The signature must be a PNG or JPEG image."))
            image.load()
            flat = Image.new("RGB", image.size, "white")
            rgba = image.convert("RGBA")
            flat.paste(rgba, mask=rgba.split()[3])
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise ValidationError(_("The signature image could not be read.")) from error
    if flat.getextrema() == ((255, 255), (255, 255), (255, 255)):
        raise ValidationError(_("The signature is empty."))
    out = io.BytesIO()
    flat.save(out, format="PNG", optimize=True)
    return out.getvalue()
