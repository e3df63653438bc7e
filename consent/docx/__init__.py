"""Word (.docx) in and out for consent-form versions, in the neutral block format of `consent/blocks.py`.

One concern per module:

* `safety`: the upload is untrusted; the package is checked (size, entries, bombs, macros, OLE2, DTDs,
  relationships, content types) and its XML parts parsed before python-docx sees it. Failures are `DocxRefused`.
* `wordxml`: styles, numbering and one paragraph's runs read from the XML (insertions kept, deletions dropped).
* `heuristics`: what a document we did not write means (headings, statements, boxes, blanks, signatures,
  consent split, title); its docstring documents the rules users will meet.
* `body`: the document body walked in order into pieces, and the notes on what is not kept.
* `assembly`: pieces merged into blocks (lists, consent statements, blanks, signature roles).
* `reader`: `import_docx`, from the checked package to the information and consent parts.
* `writer`: `export_docx`, with the TrialDocs styles, captions and bookmarks (`markers`) the reader reads exactly.
"""

from .reader import ImportResult, import_docx
from .safety import OLE2_SIGNATURE, DocxRefused
from .writer import export_docx

__all__ = ["OLE2_SIGNATURE", "DocxRefused", "ImportResult", "export_docx", "import_docx"]
