"""The file as reportlab writes it (`PDFDocument.format`: the same objects, numbers and contents, a cross-reference
table and trailer), less what a reader does without: reportlab's header and trailer comments ("ReportLab
Generated PDF document", 100 bytes), a page's rotation of 0 and its procedure sets (/ProcSet), the catalogue's
/PageMode /UseNone (defaults, or obsolete since PDF 1.4), a filter array of one filter. Its streams compressed as
reportlab does (`deflate`), the output intent's ICC profile once per process and the font subsets' programs and
ToUnicode maps once per subset.

Not with an object stream (the page, font and catalogue dictionaries packed and compressed: 2 KiB less for a
two-page form), tried: a signature added later by pyHanko keeps the cross-reference style of the file it updates,
so that each later revision (the signature's, the B-LTA completion's) would carry a cross-reference stream, an
object which the verification of a signed file (`consent.verification.revisions`) counts as added after signing:
a certified master completed to B-LTA was reported modified (consent/tests/test_archival.py). Nor a
hybrid-reference file (a table for pyHanko, a stream for the packed objects): the PDF/A checks of the tests
(pikepdf) leave its trailer key /XRefStm unchecked, so fail it.
"""

import re
import zlib
from functools import cache, lru_cache

from reportlab.pdfbase import pdfdoc

from cms.pdf_fonts import FontBytes, forget_subsets
from cms.pdfa import srgb_profile

_ID = re.compile(rb"\[\s*(<[0-9a-fA-F]*>)\s*(<[0-9a-fA-F]*>)\s*\]")


def compact_format(document: pdfdoc.PDFDocument) -> bytes:
    """What `PDFDocument.format` returns, less its comments and defaults (called by `GetPDFData`)."""
    if document.encrypt.info():
        raise ValueError("The compact writer writes no encrypted file.")
    catalog, info = document.Catalog, document.info
    if getattr(catalog, "PageMode", pdfdoc.PDFCatalog.__Defaults__["PageMode"]) == pdfdoc.PDFName("UseNone"):
        catalog.PageMode = None  # the default (ISO 32000-1 7.7.2)
    document.Reference(catalog)
    document.Reference(info)
    number_to_id, id_to_object = document.numberToId, document.idToObject
    header = b"%%PDF-%d.%d\n%%\x93\x8c\x8b\x9e\n" % document._pdfVersion  # 4 bytes above 127 (ISO 19005-2 6.1.2)
    chunks = [header]
    offset = len(header)
    offsets = []
    number = 0
    while True:  # objects formatted in number order; formatting one may reference (add) more, as in reportlab
        number += 1
        if number not in number_to_id:
            break
        oid = number_to_id[number]
        obj = id_to_object[oid]
        _deflate_stream(obj)
        if isinstance(obj, pdfdoc.PDFPage):
            _slim_page(obj, document)
        content = pdfdoc.format(obj, document, toplevel=1)
        data = b"%d 0 obj\n%s%sendobj\n" % (number, content, b"" if content.endswith(b"\n") else b"\n")
        document.idToOffset[oid] = offset
        offsets.append(offset)
        chunks.append(data)
        offset += len(data)
    if len(number_to_id) != number - 1:
        raise ValueError(f"object numbers not consecutive: {number - 1} formatted, {len(number_to_id)} known")
    ids = _ID.search(document.ID())
    root = document.Reference(catalog).format(document)
    info_ref = document.Reference(info).format(document)
    chunks.append(b"xref\n0 %d\n0000000000 65535 f \n" % number)
    chunks.append(b"".join(b"%010d 00000 n \n" % position for position in offsets))
    chunks.append(b"trailer\n<< /ID [ %s %s ] /Info %s /Root %s /Size %d >>\nstartxref\n%d\n%%%%EOF\n"
                  % (ids.group(1), ids.group(2), info_ref, root, number, offset))
    return b"".join(chunks)


def _slim_page(page: pdfdoc.PDFPage, document: pdfdoc.PDFDocument) -> None:
    """A page as reportlab sets it up (`check_format`), less what a PDF reader assumes anyway: a rotation of 0 (the
    default, ISO 32000-1 7.7.3.3) and the procedure sets (/ProcSet, obsolete since PDF 1.4, 14.2)."""
    page.check_format(document)  # reportlab's; `format` calls it again, to no effect
    if not page.Rotate:
        page.Rotate = None
    if isinstance(page.Resources, pdfdoc.PDFResourceDictionary):
        page.Resources.ProcSet = []


def deflate(data: bytes) -> bytes:
    """zlib's level 6 (reportlab's), with a window no larger than the data (2**9 to 2**15 bytes): about the same
    compression (a few bytes either way), for less memory to set up; most streams of a form are a few hundred
    bytes to a few KiB, and setting up zlib's default 32 KiB window took as long as compressing them."""
    window = max(9, min(15, (len(data) - 1).bit_length()))
    compressor = zlib.compressobj(6, zlib.DEFLATED, window)
    return compressor.compress(data) + compressor.flush()


@cache
def _deflated_profile() -> bytes:
    return deflate(srgb_profile())


@lru_cache(maxsize=128)
def _deflated_font_bytes(data: FontBytes) -> bytes:
    """A font subset's program or ToUnicode map compressed, once per subset (`cms.pdf_fonts.FontBytes`)."""
    return deflate(data)


def forget_font_subsets() -> None:
    """Forget every font subset this process made and compressed (`cms.pdf_fonts.forget_subsets`, and their
    compressed forms here): the next document pays what a first print pays."""
    forget_subsets()
    _deflated_font_bytes.cache_clear()


def _deflate_stream(stream) -> None:
    """Compress a stream reportlab would compress (its one filter `PDFZCompress`) with `deflate`, and say so in its
    dictionary (`/Filter /FlateDecode`): reportlab then writes it as it is. The output intent's ICC profile, the
    same bytes in every file, is compressed once per process, and a font subset's program and ToUnicode map once
    per subset (`cms.pdf_fonts.FontBytes`)."""
    if not isinstance(stream, pdfdoc.PDFStream) or stream.content is None or "Filter" in stream.dictionary.dict:
        return
    filters = stream.filters
    if not (isinstance(filters, list | tuple) and len(filters) == 1 and filters[0] is pdfdoc.PDFZCompress):
        return
    content = stream.content
    if content is srgb_profile():
        stream.content = _deflated_profile()
    elif type(content) is FontBytes:
        stream.content = _deflated_font_bytes(content)
    else:
        stream.content = deflate(content.encode("utf-8") if isinstance(content, str) else content)
    stream.dictionary["Filter"] = pdfdoc.PDFName("FlateDecode")  # one filter: its name (reportlab: an array of it)
