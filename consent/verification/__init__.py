"""Check a signed PDF: is it the very document that was signed, by whom, when, and do we trust the signer?

Used before a signed record is accepted, filed in the TMF or shown to an inspector (`/verify/`, `manage.py
verify_pdf`). The answer is a `SignatureReport`; bad input (garbage, unsigned, truncated, altered, too big to
examine) gives `valid=False` and the reasons in `problems`, never an exception.

Rules beyond pyHanko's own checks, because a record must not change by a single byte after signing:
- the last signature covers the whole file; the only later revisions accepted are PAdES validation data (B-LT:
  certificates and CRLs in the DSS, or a document timestamp), with the document information and XMP metadata
  rewritten by the writer only in their dates and producer. Anything else after the signed revision (a new field,
  visible or not, an annotation, another title in Info or XMP, objects nothing refers to, bytes after %%EOF) is
  listed in `changes_after_signing`, and the signed revision itself is still checked and reported
  (`signed_revision_intact`): the answer says what was found, not only "not valid";
- the unsigned gap of each signature holds exactly the hexadecimal CMS container followed by zero padding,
  in one letter case; inside the container, the parts no signature covers (lengths, versions, digest
  algorithms, signer identifier, unsigned attributes, carried certificates, the timestamp token's own
  container) are checked too, so that no byte outside the signed ranges can be altered unnoticed
  (every single-digit change of a B-B and a B-LT container was tried and refused);
- nothing follows the last %%EOF but an end of line.

The work is bounded (`VerificationLimits`): revisions, objects, form fields, signatures, the size of a signature
container and the certificates it carries, the bytes decoded from streams and the objects examined after the
signed revision are capped, and a file beyond any cap is refused with a message before the costly steps, so that
any file up to the upload limit is answered quickly (bench/verify_pdf_bounds.py). Our own documents are far
below every cap: one or two signatures, two or three revisions, well under a hundred objects.

The parts: `verify` (the entry points, and the verdict put together), `limits` (the caps, checked before the
costly steps), `validation` (pyHanko's checks of each signature, and the long-term AdES validation of a B-LTA
file), `container` (the unsigned parts of each signature), `revisions` (what was changed after signing, on
`objects`, PDF objects compared across revisions) and `report` (the answer, `SignatureReport`).
"""

from .verify import async_verify_pdf, verify_pdf, verify_pdf_in_time

__all__ = ["async_verify_pdf", "verify_pdf", "verify_pdf_in_time"]
