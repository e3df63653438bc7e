"""Issue 7 (d): our consent-form PDF (reportlab, consent/pdf/) against an HTML-to-PDF route (WeasyPrint).

The same form, the patient form in force at DIJ in the demo (`masters.form_to_print`, the very input of
`consent.pdf.render_forms`), printed two ways:
- reportlab: `render_forms([form], header=...)`, as the print views do before signing;
- WeasyPrint: an HTML page made with Django templates from the same blocks (the project's block templates
  consent/templates/consent/blocks/*.html; paragraphs sanitised as the reportlab route does), with a print
  stylesheet: A4, the same margins, the trial in the page header, the form, version, approval, "page n / N" and
  fingerprint in the footer, DejaVu Sans from consent/fonts/ through @font-face; then `HTML.write_pdf`.
A third route is WeasyPrint asked for PDF/A-2b (`pdf_variant="pdf/a-2b"`: its own sRGB profile and XMP), since the
reportlab route writes PDF/A-2b (cms/pdfa.py) since issue 15: the like-for-like comparison.
The routes are timed alternately in one run (median and best), with output size, page count, fonts (pdffonts:
embedded? subset?) and whether two renders give the same bytes. Library versions are printed, and whether the
reportlab route gives the same bytes with reportlab's own paragraph code as with consent/pdf/flowables.py's.

Run: .venv/bin/python bench/pdf_vs_weasyprint.py [--repeat N]. Temporary SQLite database (the form comes from
the demo data). Needs WeasyPrint (`pip install -e '.[bench]'`) and Pango (Debian: libpango-1.0-0 libpangoft2-1.0-0).
"""

import argparse
import shutil
import subprocess  # noqa: S404 (pdffonts/pdfinfo, fixed arguments)
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _support as s  # noqa: E402

PRINT_TEMPLATE = """{% load i18n %}<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>{{ form.title }}</title>
<style>
@font-face { font-family: "DejaVu Sans"; src: url("{{ font_regular }}"); font-weight: normal; }
@font-face { font-family: "DejaVu Sans"; src: url("{{ font_bold }}"); font-weight: bold; }
@page {
  size: A4; margin: 24mm 18mm 22mm 18mm;
  @top-left { content: {{ css.top_left }}; white-space: pre; font: 7.5pt "DejaVu Sans"; vertical-align: bottom;
              width: 70%; }
  @top-right { content: {{ css.top_right }}; white-space: pre; text-align: right; font: 7.5pt "DejaVu Sans";
               vertical-align: bottom; }
  @bottom-left { content: {{ css.bottom_left }}; white-space: pre; font: 7.5pt "DejaVu Sans"; }
  @bottom-right { content: "page " counter(page) " / " counter(pages) "\\A " {{ css.fingerprint }};
                  white-space: pre; text-align: right; font: 7.5pt "DejaVu Sans"; }
}
html { font-family: "DejaVu Sans"; font-size: 10pt; line-height: 1.35; }
h1 { font-size: 15pt; text-align: center; margin: 0 0 6pt; }
h2.part { font-size: 13pt; color: #0b3d6e; margin: 4pt 0 6pt; }
h2 { font-size: 12pt; margin: 8pt 0 4pt; } h3 { font-size: 11pt; } h4 { font-size: 10pt; }
p { margin: 0 0 4pt; } ul, ol { margin: 0 0 4pt 14pt; padding: 0; }
table { border-collapse: collapse; width: 100%; margin: 0 0 4pt; font-size: 9pt; }
table.list td, table.list th { border: 0.5pt solid grey; padding: 2pt 4pt; vertical-align: top; }
table.list th { background: #e8edf3; text-align: left; }
.statement { break-inside: avoid; }
table.signature { break-inside: avoid; margin-bottom: 6pt; }
table.signature caption { text-align: left; font-weight: bold; }
table.signature td { border: 0.6pt solid black; height: 9mm; } table.signature td:first-child { width: 45mm; }
table.signature td.box { height: 22mm; }
hr.page-break, .new-part { break-before: page; border: 0; }
</style></head>
<body>
<h1>{{ form.title }}</h1>
{% if form.information %}<h2 class="part">{{ information_title }}</h2>
{% for block in form.information %}{% if block.type == "paragraph" %}
{% for p in block.paragraphs %}<p>{{ p|safe }}</p>{% endfor %}
{% else %}{% include block.template with value=block.value %}{% endif %}{% endfor %}{% endif %}
{% if form.consent %}<h2 class="part new-part">{{ consent_title }}</h2>
{% for block in form.consent %}{% if block.type == "paragraph" %}
{% for p in block.paragraphs %}<p>{{ p|safe }}</p>{% endfor %}
{% else %}{% include block.template with value=block.value %}{% endif %}{% endfor %}{% endif %}
</body></html>
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=8)
    parser.add_argument("--out", type=Path, help="also write both PDFs to this folder, to look at them")
    args = parser.parse_args()

    s.setup_django(database="sqlite")
    s.load_demo_world(with_records=False)
    s.print_machine()

    import pydyf
    import reportlab
    import weasyprint

    from consent import masters, pdf, selectors
    from regulatory.models import TrialPage

    trial = TrialPage.objects.get(nct_number="NCT07063680")
    version = selectors.current_version(site=trial.sites.get(code="DIJ"), kind="patient", language="fr")
    form = masters.form_to_print(version, watermark="")
    header = masters.trial_header(trial)
    html_route = HtmlRoute(form, header, pdf)

    def reportlab_render():
        return pdf.render_forms([form], header=header, title=form.title)

    from consent.pdf.writer import forget_font_subsets

    def reportlab_first_print():  # the font subsets made and compressed anew, as for a form never printed before
        forget_font_subsets()
        return reportlab_render()

    def weasyprint_pdfa():
        return html_route.render(pdf_variant="pdf/a-2b")

    routes = (("reportlab", reportlab_render), ("reportlab-first-print", reportlab_first_print),
              ("weasyprint", html_route.render), ("weasyprint-pdfa", weasyprint_pdfa))
    outputs = {name: render() for name, render in routes}  # warm-up, fonts loaded
    times = {"reportlab": [], "reportlab-first-print": [], "weasyprint": [], "weasyprint-pdfa": [], "html": []}
    for _ in range(args.repeat):
        for name, render in routes:
            started = time.perf_counter()
            outputs[name] = render()
            times[name].append(time.perf_counter() - started)
        times["html"].append(html_route.last_html_seconds)
    again = {name: render() for name, render in routes}
    from consent.pdf.flowables import reportlab_code

    with reportlab_code():  # what consent/pdf/flowables.py restates of reportlab, run by reportlab itself
        stock = reportlab_render()

    folder = s.run_dir()
    rows = []
    for name, _render in routes:
        path = folder / f"{name}.pdf"
        path.write_bytes(outputs[name])
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / path.name).write_bytes(outputs[name])
        fonts = pdffonts(path)
        rows.append([name, s.ms(s.med(times[name])), s.ms(min(times[name])), f"{len(outputs[name]) / 1024:.1f} KiB",
                     f"{font_bytes(outputs[name]) / 1024:.1f} KiB", pages(path), "; ".join(fonts) or "?",
                     "yes" if again[name] == outputs[name] else "no", pdfa_claim(path)])
    ratio = s.med(times["weasyprint"]) / s.med(times["reportlab"])
    size_ratio = len(outputs["weasyprint"]) / len(outputs["reportlab"])
    ratio_pdfa = s.med(times["weasyprint-pdfa"]) / s.med(times["reportlab"])
    size_ratio_pdfa = len(outputs["weasyprint-pdfa"]) / len(outputs["reportlab"])
    s.table(f"(d) {form.title} (v{form.version_number}), {args.repeat} renders each, alternated",
            ["route", "median", "best", "size", "of which fonts", "pages", "fonts (pdffonts)", "same bytes twice",
             "XMP claims"], rows)
    print(f"WeasyPrint / reportlab: {ratio:.2f}x the time (of which the HTML from Django templates: "
          f"{s.ms(s.med(times['html']))}), {size_ratio:.2f}x the size.")
    print(f"WeasyPrint PDF/A-2b / reportlab (PDF/A-2b): {ratio_pdfa:.2f}x the time, {size_ratio_pdfa:.2f}x the size.")
    first = s.med(times["reportlab-first-print"])
    print(f"First print (font subsets made and compressed anew, `forget_font_subsets`): WeasyPrint / reportlab "
          f"{s.med(times['weasyprint']) / first:.2f}x the time, WeasyPrint PDF/A-2b / reportlab "
          f"{s.med(times['weasyprint-pdfa']) / first:.2f}x; the same bytes as a re-print: "
          + ("yes." if outputs["reportlab-first-print"] == outputs["reportlab"] else "NO."))
    print("reportlab's own paragraph code instead of consent/pdf/flowables.py's (reportlab_code()): "
          + ("the same bytes." if stock == outputs["reportlab"] else "DIFFERENT bytes: compare before trusting it."))
    print(f"Versions: reportlab {reportlab.Version}, WeasyPrint {weasyprint.__version__}, pydyf "
          f"{pydyf.__version__}, Pango {pango_version()}, Debian packages: {debian_versions()}", flush=True)
    return 0


class HtmlRoute:
    """The form as an HTML page (Django templates, the project's block templates) printed by WeasyPrint."""

    def __init__(self, form, header, pdf):
        from django.template import engines
        from weasyprint.text.fonts import FontConfiguration

        self.template = engines["django"].from_string(PRINT_TEMPLATE)
        self.font_config = FontConfiguration()
        information_title, consent_title = pdf.PART_TITLES.get(form.kind, pdf.DEFAULT_PART_TITLES)
        from cms.pdf_fonts import FONT_DIR as fonts
        title = header.title if len(header.title) <= 150 else header.title[:147] + "…"
        name = header.nct_number if header.short_name == header.nct_number else \
            f"{header.short_name} — {header.nct_number}"
        self.context = {
            "form": {**form.__dict__, "information": self._blocks(form.information, pdf),
                     "consent": self._blocks(form.consent, pdf)},
            "css": {"top_left": _css(f"{name}\n{title}"), "top_right": _css(f"Promoteur : {header.sponsor}\n "),
                    "bottom_left": _css(f"{form.kind_label} — Version {form.version_number} du {form.version_date}\n"
                                        f"{form.approval_reference or 'Sans avis favorable'}"),
                    "fingerprint": _css(f"Empreinte {form.content_hash[:16]}")},
            "information_title": information_title, "consent_title": consent_title,
            "font_regular": (fonts / "DejaVuSans.ttf").as_uri(), "font_bold": (fonts / "DejaVuSans-Bold.ttf").as_uri(),
        }
        self.last_html_seconds = 0.0

    @staticmethod
    def _blocks(blocks, pdf):
        out = []
        for block in blocks:
            item = {"type": block["type"], "value": block["value"],
                    "template": f"consent/blocks/{block['type']}.html"}
            if block["type"] == "paragraph":  # sanitised exactly as for reportlab: b, i and line breaks survive
                item["paragraphs"] = pdf._SafeMarkup.paragraphs_of(block["value"])
            out.append(item)
        return out

    def html(self) -> str:
        return self.template.render(self.context)

    def render(self, **options) -> bytes:
        from weasyprint import HTML

        started = time.perf_counter()
        html = self.html()
        self.last_html_seconds = time.perf_counter() - started
        return HTML(string=html, base_url=str(s.ROOT)).write_pdf(font_config=self.font_config, **options)


def _css(text: str) -> str:
    """A CSS string literal (quotes, backslashes and line breaks escaped), safe inside the <style> element."""
    from django.utils.safestring import mark_safe

    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\A ").replace("<", "\\3C ")
    return mark_safe(f'"{escaped}"')  # noqa: S308 (escaped above for CSS)


def pdfa_claim(path: Path) -> str:
    """The PDF/A part and conformance the file's XMP packet claims, as poppler reads it ("none" without one)."""
    import re

    if not shutil.which("pdfinfo"):
        return "?"
    meta = subprocess.run(["pdfinfo", "-meta", str(path)], capture_output=True, text=True).stdout  # noqa: S603, S607
    part = re.search(r"pdfaid:part(?:=[\"']|>)\s*(\d)", meta)
    conformance = re.search(r"pdfaid:conformance(?:=[\"']|>)\s*([ABUabu])", meta)
    return f"PDF/A-{part.group(1)}{conformance.group(1).lower()}" if part and conformance else "none"


def font_bytes(data: bytes) -> int:
    """Bytes of the embedded font programs (streams whose dictionary has /Length1, as FontFile2 streams do)."""
    import re

    total = 0
    for match in re.finditer(rb"<<([^>]*?/Length1[^>]*?)>>\s*stream", data, re.S):
        length = re.search(rb"/Length (\d+)", match.group(1))
        total += int(length.group(1)) if length else 0
    return total


def pdffonts(path: Path) -> list[str]:
    if not shutil.which("pdffonts"):
        return ["pdffonts missing (Debian poppler-utils)"]
    output = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout  # noqa: S603, S607
    lines = output.splitlines()
    spans, position = [], 0
    for dashes in lines[1].split(" "):  # the ruler line gives the columns' widths
        spans.append((position, position + len(dashes)))
        position += len(dashes) + 1
    fonts = []
    for line in lines[2:]:
        name, kind, _encoding, embedded, subset = (line[a:b].strip() for a, b in spans[:5])
        fonts.append(f"{name} ({kind}, embedded {embedded}, subset {subset})")
    return fonts


def pages(path: Path) -> str:
    if not shutil.which("pdfinfo"):
        return "?"
    output = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout  # noqa: S603, S607
    return next((line.split()[-1] for line in output.splitlines() if line.startswith("Pages:")), "?")


def pango_version() -> str:
    try:
        from weasyprint.text.ffi import pango

        number = pango.pango_version()
        return f"{number // 10000}.{number // 100 % 100}.{number % 100}"
    except Exception:  # noqa: BLE001 (a detail of the report)
        return "?"


def debian_versions() -> str:
    found = []
    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz0b", "libfontconfig1"):
        try:
            version = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package],  # noqa: S603, S607
                                     capture_output=True, text=True, check=True).stdout
            found.append(f"{package} {version}")
        except (OSError, subprocess.CalledProcessError):
            found.append(f"{package} ?")
    return ", ".join(found)


if __name__ == "__main__":
    sys.exit(main())
