"""What was changed after signing, in words: each revision after the signed one, less the validation data (the
DSS, document timestamps) and the writer's own dates in Info and XMP; and bytes after the last %%EOF."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import EmbeddedPdfSignature

from .limits import VerificationLimits
from .objects import _as_of, _changed_keys, _get, _only_extended, _ref_key, _same_ref


@dataclass(frozen=True)
class _Later:
    changes: list[str]
    original_end: int  # where the file as signed ends: its signed revision and the validation data right after


# What a writer changes in the document information and the XMP packet whenever it saves (PAdES B-LT included).
_WRITER_INFO_KEYS = {"/ModDate", "/Producer"}
_WRITER_XMP = re.compile(
    rb"""(?:xmp:ModifyDate|xmp:MetadataDate|pdf:Producer|x:xmptk)\s{0,8}=\s{0,8}(?:"[^"]{0,512}"|'[^']{0,512}')"""
    rb"""|<(xmp:ModifyDate|xmp:MetadataDate|pdf:Producer)>[^<]{0,512}</\1>""")


def _after_signing(reader: PdfFileReader, data: bytes, last: EmbeddedPdfSignature,
                   limits: VerificationLimits) -> _Later:
    """Every revision after the signed one, in words: what it changed that is not validation data (the DSS and
    its certificates, CRLs and OCSP responses, a document timestamp, the writer's dates in Info and XMP)."""
    xrefs = reader.xrefs
    signed_end = int(last.byte_range[2]) + int(last.byte_range[3])
    original_end = signed_end  # the signed range runs to the end of the signed revision, its last end of line included
    timestamped = {signature.signed_revision for signature in reader.embedded_signatures
                   if signature.sig_object_type == "/DocTimeStamp"}
    changes: list[str] = []
    examined = 0
    for revision in range(last.signed_revision + 1, xrefs.total_revisions):
        refs = sorted(xrefs.explicit_refs_in_revision(revision), key=lambda ref: (ref.idnum, ref.generation))
        examined += len(refs)
        if examined > limits.max_changed_objects:
            changes.append(_("More than %(max)s objects were added or changed after signing; they were not examined "
                             "one by one.") % {"max": limits.max_changed_objects})
            break
        found = _revision_changes(reader, revision, refs, timestamped=revision in timestamped)
        if not found and not changes:
            info = xrefs.get_xref_container_info(revision)
            eof = data.find(b"%%EOF", info.end_location)
            if eof >= 0:
                original_end = _end_of_line(data, eof + len(b"%%EOF"))
        changes.extend(found)
    trailing = _bytes_after_last_eof(data)
    if trailing:
        changes.append(_count_bytes_added(trailing))
    return _Later(changes=changes, original_end=original_end)


_COUNTED_CHANGES = {
    "annotation added": lambda n: ngettext("%(count)s annotation was added", "%(count)s annotations were added", n),
    "annotation changed": lambda n: ngettext("%(count)s annotation was changed", "%(count)s annotations were changed",
                                             n),
    "page changed": lambda n: ngettext("%(count)s page was changed", "%(count)s pages were changed", n),
    "signature added": lambda n: ngettext("%(count)s signature value was added", "%(count)s signature values were "
                                          "added", n),
    "signature changed": lambda n: ngettext("%(count)s signature value was replaced", "%(count)s signature values "
                                            "were replaced", n),
    "object added": lambda n: ngettext("%(count)s other object was added", "%(count)s other objects were added", n),
    "object changed": lambda n: ngettext("%(count)s other object was replaced", "%(count)s other objects were "
                                         "replaced", n),
}


def _revision_changes(reader: PdfFileReader, revision: int, refs, *, timestamped: bool) -> list[str]:
    """What one revision changed, in words, leaving out validation data and the writer's own dates."""
    before = reader.get_historical_resolver(revision - 1)
    after = reader.get_historical_resolver(revision)
    trailer_before, trailer_after = before.trailer_view, after.trailer_view
    root_before, root_after = _as_of(before, trailer_before, "/Root"), _as_of(after, trailer_after, "/Root")
    # Judged as a whole above: the catalogue, the document information and the XMP packet.
    skipped = [trailer_after.raw_get("/Root"), trailer_after.raw_get("/Info") if "/Info" in trailer_after else None,
               root_after.raw_get("/Metadata") if "/Metadata" in root_after else None]
    form_ref = root_after.raw_get("/AcroForm") if "/AcroForm" in root_after else None
    validation_data = _dss_members(root_after)
    changes: list[str] = []
    counts: Counter[str] = Counter()

    info_before, info_after = _as_of(before, trailer_before, "/Info"), _as_of(after, trailer_after, "/Info")
    info_changed = sorted(_changed_keys(info_before, info_after) - _WRITER_INFO_KEYS)
    if info_changed:
        changes.append(_("the document information (Info) was changed: %(keys)s") % {
            "keys": ", ".join(key.lstrip("/") for key in info_changed)})
    if _xmp(reader, revision - 1, root_before) != _xmp(reader, revision, root_after):
        changes.append(_("the XMP metadata were changed"))
    catalogue_changed = sorted(_changed_keys(root_before, root_after) - {"/DSS", "/Extensions", "/Metadata"})
    if catalogue_changed:
        changes.append(_("the document catalogue was changed: %(keys)s") % {
            "keys": ", ".join(key.lstrip("/") for key in catalogue_changed)})

    for ref in refs:
        if _ref_key(ref) in validation_data or any(_same_ref(ref, known) for known in skipped):
            continue
        obj = after.get_object(ref)
        new = reader.xrefs.get_introducing_revision(ref) == revision
        kind = _get(obj, "/Type") if isinstance(obj, generic.DictionaryObject) else None
        if timestamped and _part_of_document_timestamp(obj, before, ref, new=new):
            continue
        if _same_ref(ref, form_ref):
            # Fields only added at the end of the list are each named below (or are a document timestamp's).
            extended = not new and _changed_keys(before.get_object(ref), obj) <= {"/Fields"} and _only_extended(
                before, ref, obj, "/Fields")
            if not extended:
                changes.append(_("the form's list of fields was changed"))
        elif isinstance(obj, generic.DictionaryObject) and _get(obj, "/FT") == "/Sig":
            name = str(_get(obj, "/T", "")) or "?"
            if new:
                changes.append((_("an invisible signature field « %(name)s » was added") if _invisible(obj)
                                else _("a signature field « %(name)s » was added")) % {"name": name})
            else:
                changes.append(_("the signature field « %(name)s » was changed") % {"name": name})
        elif kind == "/Annot" or (isinstance(obj, generic.DictionaryObject) and "/Subtype" in obj and "/Rect" in obj):
            counts["annotation added" if new else "annotation changed"] += 1
        elif kind == "/Page":
            counts["page changed"] += 1
        elif kind in ("/Sig", "/DocTimeStamp"):
            counts["signature added" if new else "signature changed"] += 1
        else:
            counts["object added" if new else "object changed"] += 1
    changes.extend(_COUNTED_CHANGES[name](count) % {"count": count} for name, count in counts.items())
    return changes


def _part_of_document_timestamp(obj, before, ref, *, new: bool) -> bool:
    """A document timestamp's own objects: its signature value, its field (or widget), and the page listing the
    widget with nothing but that added."""
    if not isinstance(obj, generic.DictionaryObject):
        return False
    if _get(obj, "/Type") == "/DocTimeStamp":
        return True
    if _get(obj, "/FT") == "/Sig":
        value = _get(obj, "/V")
        return isinstance(value, generic.DictionaryObject) and _get(value, "/Type") == "/DocTimeStamp"
    if _get(obj, "/Type") == "/Page" and not new:
        if not _changed_keys(before.get_object(ref), obj) <= {"/Annots"}:
            return False
        if _only_extended(before, ref, obj, "/Annots"):
            return True
        # A page that had no annotation now lists only document timestamp widgets.
        annotations = _get(obj, "/Annots")
        return ("/Annots" not in before.get_object(ref) and isinstance(annotations, generic.ArrayObject)
                and all(_is_document_timestamp_field(item.get_object()) for item in annotations.iterate()))
    return False


def _is_document_timestamp_field(obj) -> bool:
    if not isinstance(obj, generic.DictionaryObject) or _get(obj, "/FT") != "/Sig":
        return False
    value = _get(obj, "/V")
    return isinstance(value, generic.DictionaryObject) and _get(value, "/Type") == "/DocTimeStamp"


def _invisible(field_dict) -> bool:
    """No area on any page, or flagged hidden or not to be viewed."""
    flags = _get(field_dict, "/F", 0)
    try:
        numbers = [float(value) for value in _get(field_dict, "/Rect", [])]
    except (TypeError, ValueError):
        numbers = []
    flat = len(numbers) != 4 or numbers[0] == numbers[2] or numbers[1] == numbers[3]
    return flat or (isinstance(flags, int) and bool(int(flags) & (2 | 32)))


def _dss_members(root) -> set[tuple[int, int]]:
    """References of the DSS (PAdES validation data) and of what it lists: certificates, CRLs, OCSP responses,
    the VRI dictionary and its entries."""
    members: set[tuple[int, int]] = set()

    def note(value):
        if _ref_key(value) is not None:
            members.add(_ref_key(value))
            return value.get_object()
        return value

    def note_array(value):
        listed = note(value)
        for item in listed.iterate() if isinstance(listed, generic.ArrayObject) else []:
            note(item)

    dss = note(root.raw_get("/DSS")) if "/DSS" in root else None
    if not isinstance(dss, generic.DictionaryObject):
        return members
    for name in ("/Certs", "/CRLs", "/OCSPs"):
        if name in dss:
            note_array(dss.raw_get(name))
    vri = note(dss.raw_get("/VRI")) if "/VRI" in dss else None
    for key in list(vri)[:64] if isinstance(vri, generic.DictionaryObject) else []:
        entry = note(vri.raw_get(key))
        for name in ("/Cert", "/CRL", "/OCSP"):
            if isinstance(entry, generic.DictionaryObject) and name in entry:
                note_array(entry.raw_get(name))
    return members


def _xmp(reader: PdfFileReader, revision: int, root) -> bytes:
    """The XMP packet of a revision without what a writer updates on every save (dates, producer) nor blanks."""
    value = root.raw_get("/Metadata") if isinstance(root, generic.DictionaryObject) and "/Metadata" in root else None
    if isinstance(value, generic.IndirectObject):
        last_change = reader.xrefs.get_last_change(value.reference)
        value = reader.get_object(value.reference, revision=None if last_change <= revision else revision,
                                  as_metadata_stream=True)
    data = value.data if isinstance(value, generic.StreamObject) else b""
    return _xmp_properties(data) or re.sub(rb"\s+", b"", _WRITER_XMP.sub(b"", data))


_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_WRITER_XMP_PROPERTIES = {"{http://ns.adobe.com/xap/1.0/}ModifyDate", "{http://ns.adobe.com/xap/1.0/}MetadataDate",
                          "{http://ns.adobe.com/pdf/1.3/}Producer"}


def _xmp_properties(data: bytes) -> bytes:
    """The properties an XMP packet states, namespaces resolved, in a canonical order (b"" if it is not XML).

    Two writers, or one writer twice (pyHanko re-serialises the packet at each incremental update, PDF/A files
    have one), may write the same properties as attributes or as elements, with namespace declarations in other
    places: the same metadata compares equal. The writer's own dates and producer are left out."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError):
        return b""
    if root is None:
        return b""

    def node(element) -> tuple:
        attributes = tuple(sorted((str(k), v) for k, v in element.attrib.items() if k != f"{_RDF}about"))
        children = tuple(node(child) for child in element if isinstance(child.tag, str))
        if not attributes and not children:  # <pdf:Producer>x</pdf:Producer> states what pdf:Producer="x" does
            return (str(element.tag), (element.text or "").strip())
        return (str(element.tag), attributes, (element.text or "").strip(), children)

    statements = []
    for description in root.iter(f"{_RDF}Description"):
        statements += [(str(k), v) for k, v in description.attrib.items()
                       if k != f"{_RDF}about" and k not in _WRITER_XMP_PROPERTIES]
        statements += [node(child) for child in description
                       if isinstance(child.tag, str) and child.tag not in _WRITER_XMP_PROPERTIES]
    return repr(sorted(statements, key=repr)).encode()


def _end_of_line(data: bytes, position: int) -> int:
    for eol in (b"\r\n", b"\n", b"\r"):
        if data.startswith(eol, position):
            return position + len(eol)
    return position


def _bytes_after_last_eof(data: bytes) -> int:
    eof = data.rfind(b"%%EOF")
    return 0 if eof < 0 else len(data) - _end_of_line(data, eof + len(b"%%EOF"))


def _count_bytes_added(count: int) -> str:
    return ngettext("%(count)s byte was added after the end of the file (%(marker)s)",
                    "%(count)s bytes were added after the end of the file (%(marker)s)", count) % {
        "count": count, "marker": "%%EOF"}


def _capped(changes: list[str], limits: VerificationLimits) -> list[str]:
    if len(changes) <= limits.max_listed_changes:
        return changes
    rest = len(changes) - limits.max_listed_changes + 1
    return [*changes[:limits.max_listed_changes - 1],
            ngettext("and %(count)s other change", "and %(count)s other changes", rest) % {"count": rest}]
