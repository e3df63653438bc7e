"""PDF/A-2b for every PDF TrialDocs writes with reportlab (consent forms and records, TMF record sheets).

reportlab (the open-source edition) writes no PDF/A by itself; `ArchivalCanvas` adds what ISO 19005-2 level B
asks of these documents when they are saved:
- an XMP metadata packet (uncompressed, as the standard asks) that claims PDF/A-2b (`pdfaid:part` 2,
  `pdfaid:conformance` B) and repeats the document information (title, author, subject, keywords, creator,
  producer, dates) with the same values;
- an output intent (`GTS_PDFA1`) with the sRGB profile of cms/icc/ embedded, for the RGB colours drawn;
- every font embedded (the DejaVu subsets of cms/pdf_fonts.py; the canvas starts in DejaVu, never in an
  unembedded standard font), no encryption, no JavaScript, no action, no external reference: reportlab writes none
  of them unless asked, and nothing here asks.
A signature or a document timestamp added later by pyHanko is an incremental update that keeps all of this (it
rewrites the XMP dates and producer in step with the document information).

What is checked here, without veraPDF: cms/tests/test_pdfa.py. See the README ("Archival PDFs").
"""

from __future__ import annotations

from functools import cache
from html import escape
from pathlib import Path

from reportlab.pdfbase import pdfdoc
from reportlab.pdfgen.canvas import Canvas

from cms.pdf_fonts import FONT, register_fonts

ICC_PROFILE = Path(__file__).resolve().parent / "icc" / "sRGB.icc"
OUTPUT_CONDITION = "sRGB IEC61966-2.1"
PDFA_PART, PDFA_CONFORMANCE = "2", "B"


@cache
def srgb_profile() -> bytes:
    """The ICC profile of the output intent (read once per process)."""
    return ICC_PROFILE.read_bytes()


class ArchivalCanvas(Canvas):
    """A reportlab canvas whose saved document is PDF/A-2b (see the module's notes)."""

    def __init__(self, *args, **kwargs):
        register_fonts()
        # Platypus passes its default (an unembedded Helvetica, then in every page's resources): overridden
        kwargs.update(initialFontName=FONT, initialFontSize=10)
        kwargs.setdefault("enforceColorSpace", "rgb")  # the output intent is RGB: no CMYK or spot colour
        super().__init__(*args, **kwargs)

    def save(self):
        make_archival(self)
        super().save()


def make_archival(canvas: Canvas) -> None:
    """Give the canvas's document its XMP claim and sRGB output intent (call before `save`)."""
    document = canvas._doc
    catalog = document.Catalog
    metadata = pdfdoc.XMP(creator=_xmp_packet)
    catalog.Metadata = metadata
    profile = pdfdoc.PDFStream(pdfdoc.PDFDictionary({"N": 3}), content=srgb_profile(),
                               filters=[pdfdoc.PDFZCompress])
    intent = pdfdoc.PDFDictionary({
        "Type": pdfdoc.PDFName("OutputIntent"),
        "S": pdfdoc.PDFName("GTS_PDFA1"),
        "OutputConditionIdentifier": pdfdoc.PDFString(OUTPUT_CONDITION),
        "Info": pdfdoc.PDFString(OUTPUT_CONDITION),
        "RegistryName": pdfdoc.PDFString("http://www.color.org"),
        "DestOutputProfile": document.Reference(profile),
    })
    catalog.OutputIntents = pdfdoc.PDFArray([intent])
    for page in document.Pages.pages:  # reportlab writes an empty page transition (`/Trans << >>`) on each page
        if isinstance(page.Trans, pdfdoc.PDFDictionary) and not page.Trans.dict:
            page.Trans = None
    if "OutputIntents" not in catalog.__NoDefault__:  # the catalogue writes only the keys it lists
        catalog.__NoDefault__ = [*catalog.__NoDefault__, "OutputIntents"]


def _xmp_date(document) -> str:
    stamp = document._timeStamp
    year, month, day, hour, minute, second = stamp.YMDhms
    sign = "-" if stamp.dhh < 0 or (stamp.dhh == 0 and stamp.dmm < 0) else "+"
    return (f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
            f"{sign}{abs(stamp.dhh):02d}:{abs(stamp.dmm):02d}")


def _xmp_packet(document) -> bytes:
    """The XMP packet: the PDF/A claim and the document information, value for value (ISO 19005-2, 6.6.2.3)."""
    info = document.info
    date = _xmp_date(document)

    def text(value) -> str:
        return escape(str(value or ""), quote=False)  # XML element text: &, < and > escaped

    packet = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/" \
xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">
<pdfaid:part>{PDFA_PART}</pdfaid:part>
<pdfaid:conformance>{PDFA_CONFORMANCE}</pdfaid:conformance>
<dc:format>application/pdf</dc:format>
<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{text(info.title)}</rdf:li></rdf:Alt></dc:title>
<dc:creator><rdf:Seq><rdf:li>{text(info.author)}</rdf:li></rdf:Seq></dc:creator>
<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{text(info.subject)}</rdf:li></rdf:Alt></dc:description>
<pdf:Keywords>{text(info.keywords)}</pdf:Keywords>
<pdf:Producer>{text(info.producer)}</pdf:Producer>
<xmp:CreatorTool>{text(info.creator)}</xmp:CreatorTool>
<xmp:CreateDate>{date}</xmp:CreateDate>
<xmp:ModifyDate>{date}</xmp:ModifyDate>
<xmp:MetadataDate>{date}</xmp:MetadataDate>
</rdf:Description>
</rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""
    return packet.encode("utf-8")
