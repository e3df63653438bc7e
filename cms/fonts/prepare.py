"""Make the fonts of cms/fonts/ from DejaVu Sans as Debian ships it (fonts-dejavu-core), for PDFs that stay small.

Every PDF of the project embeds a subset of DejaVu Sans. reportlab copies into each subset the source font's
hinting programs (fpgm, prep, cvt and per-glyph instructions, for screens of the 1990s) and its whole `name`
table (16 KiB, in two encodings), so a two-page form carried 37 KiB of fonts. This keeps every glyph and every
character, drops the hinting and the tables no PDF renderer reads (OpenType layout, kerning, MATH), and keeps of
the `name` table the Windows Unicode records of the family, style, version and PostScript names, the copyright
and trademark notice (IDs 0 and 7) and the licence's URL (ID 14), as the licence (LICENSE-DejaVu.txt) asks.
Glyph outlines and metrics are unchanged.

Run once when the fonts change (needs fontTools: `pip install fonttools`):

    .venv/bin/python cms/fonts/prepare.py /usr/share/fonts/truetype/dejavu
"""

import sys
from pathlib import Path

from fontTools import subset

HERE = Path(__file__).resolve().parent
FACES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
NAME_IDS = [0, 1, 2, 3, 4, 5, 6, 7, 14]


def prepare(source: Path, target: Path) -> None:
    options = subset.Options()
    options.hinting = False
    options.drop_tables += ["GPOS", "GSUB", "GDEF", "MATH", "kern", "FFTM", "gasp"]
    options.layout_features = []
    options.name_IDs = NAME_IDS
    options.name_languages = [0x409]
    options.name_legacy = False
    options.notdef_outline = True
    options.glyph_names = False
    options.recalc_timestamp = False
    font = subset.load_font(str(source), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(glyphs=font.getGlyphOrder())
    subsetter.subset(font)
    subset.save_font(font, str(target), options)


def main() -> int:
    source_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/truetype/dejavu")
    for face in FACES:
        prepare(source_dir / face, HERE / face)
        print(f"{face}: {(HERE / face).stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
