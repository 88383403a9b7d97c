"""Whole-cheque generator: layouts drawn from parameters, real or synthetic ink, archive capture.

Real cheque images with a known signature box are scarce, so the signature finder is trained
and measured on generated ones. Each cheque is drawn in layers (security background, print,
handwritten fields, stamp, code line, signatures), each a coverage map, then composited on
paper and captured (skew, blur, noise, 200-300 dpi, greyscale or colour, JPEG, thresholded or
dithered bilevel, CCITT group 4). A class map records which layer owns each pixel, so every
signature's box (and its ink, for training) is exact after the capture's skew.

Layouts come in families (US personal and business, UK personal and company, Indian CTS-2010
personal and company, a continental CMC-7 cheque without a signature line, a free layout
whose signature may lie anywhere in the lower half, and a US joint account's cheque whose two
holders sign side by side on one long line). Within a family every position, size,
font, text and pattern is drawn from ranges, so no two cheques share a template.
``HELD_OUT_FAMILIES`` are never used for training: figures on them say how the finder does on
layouts it has not seen.

Ink comes from ``DatasetInk`` (signatures of one split's writers in the development datasets;
the generator for training uses the training writers only) or ``SyntheticInk`` (drawn strokes,
no data needed). Handwriting in the date, payee, amount and memo fields is cut from OTHER
writers' signatures, so it is word-like ink that must be told apart from the signature.
Django-free.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FAMILIES = (
    "us_personal",
    "us_business",
    "uk_personal",
    "uk_company",
    "in_cts",
    "in_cts_company",
    "eu_cmc7",
    "free",
    "us_joint",
)
HELD_OUT_FAMILIES = ("uk_company", "eu_cmc7")  # never seen in training; the benchmark's layouts
TRAINING_FAMILIES = tuple(f for f in FAMILIES if f not in HELD_OUT_FAMILIES)
CAPTURES = ("grey", "colour", "jpeg", "bilevel", "dithered", "group4")

# Class map values: which layer owns a pixel. Signatures are SIGNATURE + index (0-based).
PAPER, PRINT, BACKGROUND, HANDWRITING, STAMP, CODE_LINE, SIGNATURE = 0, 1, 2, 3, 4, 5, 10
OWNS = 0.3  # coverage at which a layer owns a pixel in the class map

FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype", "/usr/share/fonts")


@dataclass
class GeneratedCheque:
    image: Image.Image  # as a bank's file decodes (mode "1" for bilevel captures)
    boxes: list[tuple[int, int, int, int]]  # each signature's ink box: x, y, width, height
    classes: np.ndarray  # uint8 (H, W): PAPER, PRINT, ..., SIGNATURE + i
    family: str
    capture: str
    dpi: int
    seed: int
    crossing: list[bool] = field(default_factory=list)  # each signature crosses its printed line
    writers: list[str] = field(default_factory=list)  # the signatures' writers (ink source keys)

    @property
    def signature_mask(self) -> np.ndarray:
        return self.classes >= SIGNATURE

    @property
    def data(self) -> bytes:
        """The file a bank would send (group 4 TIFF, JPEG or PNG)."""
        return encode(self.image, self.capture, self.dpi)


# ---------------------------------------------------------------- ink sources


def ink_darkness(image: Image.Image) -> np.ndarray:
    """A signature scan -> uint8 darkness (0 paper .. 255 full ink) cropped to its ink.

    As ``preprocess``: median, Otsu, paper level from the non-ink pixels; but kept at scan size."""
    from .preprocess import median3, otsu_threshold, to_greyscale

    grey = median3(to_greyscale(image).astype(np.uint8)).astype(np.float32)
    if grey.max() - grey.min() < 24:
        return np.zeros((1, 1), np.uint8)
    ink = grey < otsu_threshold(grey)
    paper = float(np.median(grey[~ink])) if (~ink).any() else 255.0
    dark = np.where(ink, np.clip((paper - grey) / max(paper, 1.0), 0, 1), 0.0)
    peak = float(np.percentile(dark[ink], 95)) if ink.any() else 1.0
    dark = np.clip(dark / max(peak, 1e-3), 0, 1)
    strong = dark > 0.4  # crop to the strokes: a faint speck far off would misplace the box
    rows = np.flatnonzero(strong.sum(axis=1) >= 2)
    cols = np.flatnonzero(strong.sum(axis=0) >= 2)
    if not rows.size or not cols.size:
        return np.zeros((1, 1), np.uint8)
    return (dark[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] * 255).astype(np.uint8)


class SyntheticInk:
    """Signatures drawn by ``synthetic_signatures`` (no data needed). Writers are numbers; the
    training writers and the test writers are disjoint ranges."""

    def __init__(self, split: str = "train", writers: int = 60):
        offset = {"train": 0, "val": 5000, "test": 10000}[split]
        self.writers = [str(offset + i) for i in range(1, writers + 1)]

    def sample(self, writer: str, rng: np.random.Generator, forged: bool = False, sample: int | None = None):
        from .synthetic_signatures import draw_signature

        n = int(rng.integers(0, 24)) if sample is None else sample
        aspect = float(rng.uniform(2.0, 3.4))
        size = (int(120 * aspect), 120)
        pen = int(rng.integers(2, 5))
        return ink_darkness(draw_signature(int(writer), n, forged=forged, size=size, pen=pen))


DATASET_LAYOUTS = {"cedar": ("CEDAR", "cedar"), "gpds": ("GPDS", "gpds"), "bengali": ("BHSig260/Bengali", "bhsig260")}
DATASET_LAYOUTS["hindi"] = ("BHSig260/Hindi", "bhsig260")


class DatasetInk:
    """Signatures of one split's writers (``image_pairs/splits.csv``) read from the raw datasets.

    Writer keys are ``dataset/writer`` as in the splits file."""

    def __init__(
        self, datasets_root, splits: dict, split: str = "train", datasets=tuple(DATASET_LAYOUTS), sources=None
    ):
        """``sources``: {name: (folder, layout)} to read instead of ``datasets`` under ``datasets_root``."""
        from .datasets import scan

        self.samples: dict[str, dict[str, list[Path]]] = {}
        root = Path(datasets_root)
        if sources is None:
            sources = {name: (root / DATASET_LAYOUTS[name][0], DATASET_LAYOUTS[name][1]) for name in datasets}
        for name, (folder, layout) in sources.items():
            if not Path(folder).is_dir():
                continue
            for s in scan(folder, layout):
                key = f"{name}/{s.writer}"
                if splits.get(key) != split:
                    continue
                self.samples.setdefault(key, {"genuine": [], "forged": []})[s.label].append(Path(s.path))
        self.writers = sorted(self.samples)
        if not self.writers:
            raise ValueError(f"no {split} writers in {', '.join(str(f) for f, _ in sources.values())}")

    @classmethod
    def from_folders(cls, folders, splits: dict, split: str = "train") -> DatasetInk:
        """Organised datasets (``sigverify import-data``), each folder named as the splits file names
        its dataset (``organized_data/cedar``: ``cedar/<writer>``)."""
        return cls("", splits, split, sources={Path(f).resolve().name.lower(): (Path(f), "folders") for f in folders})

    def sample(self, writer: str, rng: np.random.Generator, forged: bool = False, sample: int | None = None):
        paths = self.samples[writer]["forged" if forged else "genuine"]
        path = paths[int(rng.integers(0, len(paths))) if sample is None else sample % len(paths)]
        return _dataset_darkness(str(path))


@lru_cache(maxsize=768)
def _dataset_darkness(path: str) -> np.ndarray:
    from .preprocess import load_image

    return ink_darkness(load_image(path))


# ---------------------------------------------------------------- fonts and glyphs


@lru_cache(maxsize=1)
def _font_files() -> tuple[str, ...]:
    found = []
    for folder in FONT_DIRS:
        path = Path(folder)
        if path.is_dir():
            found += sorted(str(p) for p in path.rglob("*.ttf") if "Math" not in p.name)
        if found:
            break
    return tuple(found)


@lru_cache(maxsize=512)
def _font(name: str | None, size: int):
    size = max(6, int(size))
    if name:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            pass
    return ImageFont.load_default(size=size)


def _pick_font(rng, bold: bool = False) -> str | None:
    files = [f for f in _font_files() if ("Bold" in f) == bold and "ExtraLight" not in f] or list(_font_files())
    if not files or rng.random() < 0.15:
        return None  # Pillow's own font
    return files[int(rng.integers(0, len(files)))]


_MICR_GLYPHS = None


def _micr_glyphs():
    """14 E-13B-like glyphs: thick blocky strokes on a 7 x 9 grid (fixed, seeded)."""
    global _MICR_GLYPHS
    if _MICR_GLYPHS is None:
        rng = np.random.default_rng(13)
        glyphs = []
        for _ in range(14):
            rects = [(0, int(rng.integers(0, 4)), 2, 9) if rng.random() < 0.5 else (5, int(rng.integers(0, 4)), 7, 9)]
            for _ in range(int(rng.integers(1, 4))):
                x0, y0 = int(rng.integers(0, 5)), int(rng.integers(0, 7))
                rects.append((x0, y0, min(7, x0 + int(rng.integers(2, 5))), min(9, y0 + int(rng.integers(2, 4)))))
            glyphs.append(rects)
        _MICR_GLYPHS = glyphs
    return _MICR_GLYPHS


# ---------------------------------------------------------------- layout description


@dataclass
class Slot:
    """A place for handwriting: a box in inches; the ink sits on its bottom edge."""

    x: float
    y: float
    w: float
    h: float


@dataclass
class SignatureSlot:
    x: float  # the printed signature line, or the free area's bottom edge, in inches
    y: float
    w: float
    line: bool = True


@dataclass
class Layout:
    width: float  # inches
    height: float
    texts: list = field(default_factory=list)  # (x, y, size_in, text, bold)
    lines: list = field(default_factory=list)  # (x0, y0, x1, y1, width_in)
    boxes: list = field(default_factory=list)  # (x, y, w, h, width_in)
    digit_boxes: list = field(default_factory=list)  # (x, y, cell_w, h, count)
    fields: list = field(default_factory=list)  # Slot
    signatures: list = field(default_factory=list)  # SignatureSlot
    code_line: str = "e13b"  # e13b | cmc7 | none
    stamp: tuple | None = None  # (cx, cy, radius) inches
    crossing: bool = False  # two parallel diagonal lines (account payee)
    logo: tuple | None = None  # (x, y, size) inches


BANKS = ("FIRST EXAMPLE BANK", "Union Savings Bank", "CITY TRUST", "Northern Federal Credit Union", "BANCO EJEMPLO")
BANKS += (
    "State Bank of Example",
    "Example Co-operative Bank Ltd.",
    "HARBOUR & MERCHANT",
    "Banque Exemple",
    "Commonwealth Example",
)
PEOPLE = ("JANE Q. EXAMPLE", "John Sample", "A. N. OTHER", "MARIA DA SILVA", "R. K. SHARMA", "Chen Wei", "P. DUPONT")
COMPANIES = (
    "EXAMPLE TRADING LTD",
    "ACME SUPPLIES INC.",
    "SHARMA & SONS PVT LTD",
    "NORTHWIND LLC",
    "SOCIETE EXEMPLE SA",
)
STREETS = ("1 Main Street, Springfield", "22 High Street, Anytown AB1 2CD", "Plot 7, MG Road, Pune 411001")


def _choice(rng, seq):
    return seq[int(rng.integers(0, len(seq)))]


def _u(rng, a, b):
    return float(rng.uniform(a, b))


def _header(rng, lay: Layout, bank: str, left: float, top: float, size: float):
    if rng.random() < 0.6:
        lay.logo = (left, top, _u(rng, 0.25, 0.45))
        left += lay.logo[2] + 0.08
    lay.texts.append((left, top, size, bank, True))
    if rng.random() < 0.7:
        lay.texts.append((left, top + size * 1.5, size * 0.55, _choice(rng, STREETS), False))


def _code_line_y(lay: Layout) -> float:
    return lay.height - 0.25 - 0.117  # E-13B band: its baseline 3/16 in above the bottom edge


def _layout_us(rng, business: bool, joint: bool = False) -> Layout:
    """A US personal or business cheque; ``joint``: a joint account's personal cheque, wider, whose
    two holders sign side by side on one long signature line (two signatures on one line)."""
    if joint:
        w, h = _u(rng, 6.6, 7.6), _u(rng, 2.7, 3.1)
    else:
        w, h = (_u(rng, 8.0, 8.75), _u(rng, 3.0, 3.6)) if business else (_u(rng, 5.9, 6.3), _u(rng, 2.6, 2.95))
    lay = Layout(w, h)
    s = _u(rng, 0.1, 0.15)
    if business:
        _header(rng, lay, _choice(rng, COMPANIES), _u(rng, 0.2, 0.35), _u(rng, 0.15, 0.3), s * 1.2)
        lay.texts.append((w * _u(rng, 0.4, 0.5), _u(rng, 0.15, 0.3), s * 0.9, _choice(rng, BANKS), True))
    else:
        lay.texts.append((_u(rng, 0.2, 0.35), _u(rng, 0.15, 0.25), s, _choice(rng, PEOPLE), True))
        lay.texts.append((_u(rng, 0.2, 0.35), _u(rng, 0.32, 0.42), s * 0.7, _choice(rng, STREETS), False))
        lay.texts.append((w * _u(rng, 0.35, 0.5), _u(rng, 0.15, 0.3), s, _choice(rng, BANKS), True))
    lay.texts.append((w - _u(rng, 0.6, 0.8), _u(rng, 0.12, 0.22), s, str(int(rng.integers(100, 99999))), False))
    dy = _u(rng, 0.55, 0.75) * h / 2.75
    date_x = w * _u(rng, 0.6, 0.72)
    lay.texts.append((date_x, dy - s, s * 0.8, _choice(rng, ("DATE", "Date")), False))
    lay.lines.append((date_x + 0.4, dy + 0.05, w - 0.3, dy + 0.05, 0.01))
    lay.fields.append(Slot(date_x + 0.45, dy - 0.25, _u(rng, 0.8, 1.3), 0.28))
    py = dy + _u(rng, 0.3, 0.45) * h / 2.75
    lay.texts.append((0.25, py - s * 1.6, s * 0.7, "PAY TO THE\nORDER OF", False))
    box_x = w - _u(rng, 1.3, 1.7)
    lay.lines.append((1.1, py + 0.05, box_x - 0.25, py + 0.05, 0.01))
    lay.fields.append(Slot(1.2, py - 0.28, (box_x - 1.5) * _u(rng, 0.4, 0.9), 0.3))
    lay.texts.append((box_x - 0.2, py - 0.2, s * 1.2, "$", True))
    lay.boxes.append((box_x, py - 0.3, _u(rng, 1.1, 1.4), 0.33, 0.012))
    lay.fields.append(Slot(box_x + 0.1, py - 0.27, 0.9, 0.26))
    wy = py + _u(rng, 0.35, 0.5) * h / 2.75
    lay.lines.append((0.3, wy + 0.05, w - 0.9, wy + 0.05, 0.01))
    lay.texts.append((w - 0.85, wy - s, s * 0.8, "DOLLARS", False))
    lay.fields.append(Slot(0.4, wy - 0.27, (w - 1.6) * _u(rng, 0.5, 0.95), 0.3))
    sy = h - _u(rng, 0.55, 0.7) * h / 2.75
    lay.texts.append((0.25, sy - s, s * 0.8, _choice(rng, ("MEMO", "FOR", "Memo")), False))
    if joint:  # the memo higher up, the whole lower right for the two holders
        _joint_signatures(rng, lay, w, sy, s)
        return lay
    lay.lines.append((0.7, sy + 0.05, w * _u(rng, 0.38, 0.48), sy + 0.05, 0.01))
    if rng.random() < 0.7:
        lay.fields.append(Slot(0.8, sy - 0.25, _u(rng, 0.6, 1.3), 0.27))
    sig_len = _u(rng, 2.2, 2.9)
    if business and rng.random() < 0.6:  # two stacked lines, the upper one higher on the cheque
        upper = sy - _u(rng, 0.45, 0.6)
        for y in (upper, sy):
            lay.lines.append((w - 0.3 - sig_len, y, w - 0.3, y, 0.01))
            lay.texts.append((w - 0.3 - sig_len, y + 0.04, s * 0.55, "AUTHORIZED SIGNATURE", False))
            lay.signatures.append(SignatureSlot(w - 0.3 - sig_len, y, sig_len))
    else:
        lay.lines.append((w - 0.3 - sig_len, sy, w - 0.3, sy, 0.01))
        if rng.random() < 0.5:
            lay.texts.append(
                (w - 0.3 - sig_len, sy + 0.04, s * 0.55, _choice(rng, ("AUTHORIZED SIGNATURE", "MP")), False)
            )
        lay.signatures.append(SignatureSlot(w - 0.3 - sig_len, sy, sig_len))
    if business and rng.random() < 0.5:
        lay.texts.append((w - 0.3 - sig_len, sy - 1.0, s * 0.5, "VOID AFTER 90 DAYS", True))
    return lay


def _joint_signatures(rng, lay: Layout, w: float, sy: float, s: float) -> None:
    """Two signature slots side by side on ONE long printed line (a joint account), a gap of
    0.1-0.7 inch between them (the signatures drawn into them may come closer or touch); a short
    memo line at the left."""
    memo_end = _u(rng, 1.6, 2.0)
    lay.lines.append((0.7, sy + 0.05, memo_end, sy + 0.05, 0.01))
    if rng.random() < 0.6:
        lay.fields.append(Slot(0.8, sy - 0.25, _u(rng, 0.5, memo_end - 0.9), 0.27))
    start = memo_end + _u(rng, 0.3, 0.6)
    total = w - 0.3 - start
    gap = _u(rng, 0.1, 0.7)
    slot_w = (total - gap) / 2
    lay.lines.append((start, sy, w - 0.3, sy, 0.01))
    if rng.random() < 0.5:
        lay.texts.append((start, sy + 0.04, s * 0.55, _choice(rng, ("SIGNATURE(S)", "AUTHORIZED SIGNATURES")), False))
    for x in (start, start + slot_w + gap):
        lay.signatures.append(SignatureSlot(x, sy, slot_w))


def _layout_uk(rng, company: bool) -> Layout:
    w, h = _u(rng, 6.3, 7.1), _u(rng, 2.9, 3.3)
    lay = Layout(w, h)
    s = _u(rng, 0.1, 0.14)
    _header(rng, lay, _choice(rng, BANKS), _u(rng, 0.2, 0.4), _u(rng, 0.15, 0.3), s * 1.1)
    lay.texts.append(
        (
            w - _u(rng, 1.3, 1.6),
            _u(rng, 0.15, 0.25),
            s * 0.8,
            f"{rng.integers(10, 99)}-{rng.integers(10, 99)}-{rng.integers(10, 99)}",
            False,
        )
    )
    dy = _u(rng, 0.65, 0.85)
    lay.texts.append((w - 2.2, dy - s * 0.8, s * 0.8, "Date", False))
    if rng.random() < 0.5:
        lay.digit_boxes.append((w - 1.8, dy - 0.22, 0.18, 0.26, 8))
        lay.fields.append(Slot(w - 1.75, dy - 0.24, 1.3, 0.26))
    else:
        lay.lines.append((w - 1.8, dy + 0.05, w - 0.3, dy + 0.05, 0.01))
        lay.fields.append(Slot(w - 1.75, dy - 0.24, 1.1, 0.28))
    py = dy + _u(rng, 0.35, 0.5)
    lay.texts.append((0.3, py - s, s, "Pay", False))
    lay.lines.append((0.7, py + 0.05, w - 2.0, py + 0.05, 0.01))
    lay.fields.append(Slot(0.8, py - 0.27, (w - 3.0) * _u(rng, 0.4, 0.9), 0.3))
    wy = py + _u(rng, 0.3, 0.4)
    lay.lines.append((0.3, wy + 0.05, w - 2.0, wy + 0.05, 0.01))
    lay.fields.append(Slot(0.4, wy - 0.27, (w - 2.8) * _u(rng, 0.5, 0.95), 0.3))
    bx, by = w - _u(rng, 1.7, 1.9), py - _u(rng, 0.0, 0.15)
    lay.texts.append((bx + 0.05, by + 0.03, s * 1.2, "£", True))
    lay.boxes.append((bx, by, _u(rng, 1.3, 1.5), _u(rng, 0.35, 0.45), 0.014))
    lay.fields.append(Slot(bx + 0.3, by + 0.05, 1.0, 0.3))
    if rng.random() < 0.6:
        lay.crossing = True
    sy = h - _u(rng, 0.55, 0.65)
    if company:
        gap = _u(rng, 0.2, 0.45)
        sig_len = _u(rng, 1.6, 2.1)
        x1 = w - 0.3 - sig_len
        x0 = x1 - gap - sig_len
        lay.texts.append(
            (x0, sy - _u(rng, 0.75, 0.9), s * 0.7, f"For and on behalf of {_choice(rng, COMPANIES)}", False)
        )
        for x, label in ((x0, "DIRECTOR"), (x1, _choice(rng, ("DIRECTOR", "SECRETARY")))):
            lay.lines.append((x, sy, x + sig_len, sy, 0.01))
            lay.texts.append((x, sy + 0.04, s * 0.6, label, False))
            lay.signatures.append(SignatureSlot(x, sy, sig_len))
    else:
        sig_len = _u(rng, 2.0, 2.6)
        lay.lines.append((w - 0.3 - sig_len, sy, w - 0.3, sy, 0.01))
        lay.texts.append((w - 0.3 - sig_len, sy + 0.04, s * 0.7, _choice(rng, PEOPLE), False))
        lay.signatures.append(SignatureSlot(w - 0.3 - sig_len, sy, sig_len))
    return lay


def _layout_in(rng, company: bool) -> Layout:
    w, h = _u(rng, 7.8, 8.1), _u(rng, 3.5, 3.7)  # CTS-2010: 202 x 92 mm
    lay = Layout(w, h)
    s = _u(rng, 0.1, 0.13)
    _header(rng, lay, _choice(rng, BANKS), _u(rng, 0.25, 0.4), _u(rng, 0.15, 0.25), s * 1.1)
    lay.texts.append((0.3, _u(rng, 0.6, 0.7), s * 0.6, f"IFSC: EXMP0{rng.integers(100000, 999999)}", False))
    lay.digit_boxes.append((w - 1.9, 0.35, 0.19, 0.26, 8))
    lay.texts.append((w - 1.9, 0.63, s * 0.5, "D D M M Y Y Y Y", False))
    lay.fields.append(Slot(w - 1.85, 0.33, 1.4, 0.27))
    py = _u(rng, 1.0, 1.15)
    lay.texts.append((0.3, py - s, s, "Pay", False))
    lay.lines.append((0.7, py + 0.05, w - 0.9, py + 0.05, 0.01))
    lay.texts.append((w - 0.85, py - s, s * 0.8, "OR BEARER", False))
    lay.fields.append(Slot(0.9, py - 0.28, (w - 2.5) * _u(rng, 0.4, 0.8), 0.3))
    wy = py + _u(rng, 0.35, 0.42)
    lay.texts.append((0.3, wy - s, s * 0.9, _choice(rng, ("Rupees", "RUPEES")), False))
    lay.lines.append((1.0, wy + 0.05, w - 2.2, wy + 0.05, 0.01))
    lay.lines.append((0.3, wy + 0.42, w - 2.2, wy + 0.42, 0.01))
    lay.fields.append(Slot(1.1, wy - 0.27, (w - 3.5) * _u(rng, 0.5, 0.95), 0.3))
    bx = w - 2.0
    lay.texts.append((bx + 0.05, wy + 0.02, s * 1.1, _choice(rng, ("₹", "Rs.")), True))
    lay.boxes.append((bx, wy - 0.05, 1.7, 0.4, 0.014))
    lay.fields.append(Slot(bx + 0.4, wy, 1.1, 0.3))
    lay.texts.append((0.3, wy + 0.62, s * 0.8, "A/c No.", False))
    lay.digit_boxes.append((1.0, wy + 0.55, 0.17, 0.24, int(rng.integers(11, 16))))
    if rng.random() < 0.5:
        lay.crossing = True
    sy = h - _u(rng, 0.75, 0.9)
    lines = 2 if company and rng.random() < 0.5 else 1
    sig_len = _u(rng, 2.0, 2.5) if lines == 1 else _u(rng, 1.6, 1.9)
    xs = [w - 0.35 - sig_len] if lines == 1 else [w - 0.35 - sig_len, w - 0.35 - 2 * sig_len - _u(rng, 0.2, 0.4)]
    for x in xs:
        if rng.random() < 0.7:
            lay.lines.append((x, sy, x + sig_len, sy, 0.008))
        lay.signatures.append(SignatureSlot(x, sy, sig_len))
        label = "Authorised Signatory" if company else "Please sign above"
        lay.texts.append((x + sig_len * _u(rng, 0.15, 0.35), sy + 0.05, s * 0.65, label, False))
    if company:
        lay.texts.append((xs[-1], sy - _u(rng, 0.7, 0.85), s * 0.8, f"For {_choice(rng, COMPANIES)}", True))
        if rng.random() < 0.8:
            cx = _u(rng, xs[-1], w - 0.6)
            lay.stamp = (cx, sy - _u(rng, 0.1, 0.4), _u(rng, 0.35, 0.5))
    return lay


def _layout_eu(rng) -> Layout:
    w, h = _u(rng, 6.7, 7.0), _u(rng, 3.0, 3.3)  # 175 x 80 mm; no signature line, CMC-7
    lay = Layout(w, h, code_line="cmc7")
    s = _u(rng, 0.09, 0.12)
    lay.boxes.append((w - _u(rng, 1.9, 2.2), 0.2, _u(rng, 1.6, 1.8), 0.38, 0.012))
    lay.texts.append((w - 2.3, 0.3, s * 1.2, "€", True))
    lay.fields.append(Slot(w - 1.8, 0.25, 1.3, 0.3))
    lay.texts.append((0.3, 0.25, s * 0.8, "Payez contre ce chèque", False))
    lay.lines.append((2.0, 0.55, w - 2.4, 0.55, 0.008))
    lay.fields.append(Slot(2.1, 0.28, (w - 4.6) * _u(rng, 0.6, 1.0), 0.27))
    lay.lines.append((0.3, 0.85, w - 2.4, 0.85, 0.008))
    lay.texts.append((0.3, 1.0, s * 0.8, "à l'ordre de", False))
    lay.lines.append((1.2, 1.15, w - 2.4, 1.15, 0.008))
    lay.fields.append(Slot(1.3, 0.88, (w - 4.0) * _u(rng, 0.5, 0.9), 0.27))
    _header(rng, lay, _choice(rng, BANKS), 0.3, _u(rng, 1.4, 1.6), s)
    lay.texts.append((w - 2.6, 1.35, s * 0.8, "A", False))
    lay.texts.append((w - 1.3, 1.35, s * 0.8, "le", False))
    lay.fields.append(Slot(w - 2.45, 1.2, 1.0, 0.25))
    lay.fields.append(Slot(w - 1.1, 1.2, 0.9, 0.25))
    sy = h - _u(rng, 0.6, 0.75)
    lay.signatures.append(SignatureSlot(w - _u(rng, 2.6, 3.0), sy, _u(rng, 2.0, 2.4), line=False))
    lay.texts.append((0.3, sy - 0.1, s * 0.7, _choice(rng, PEOPLE), False))
    return lay


def _layout_free(rng) -> Layout:
    """Any element anywhere reasonable: the signature in the lower left, centre or right."""
    w, h = _u(rng, 5.8, 8.6), _u(rng, 2.6, 3.7)
    lay = Layout(w, h, code_line=_choice(rng, ("e13b", "e13b", "cmc7", "none")))
    s = _u(rng, 0.09, 0.15)
    _header(rng, lay, _choice(rng, BANKS), _u(rng, 0.2, w / 2), _u(rng, 0.12, 0.3), s)
    rows = sorted(_u(rng, 0.7, h - 1.1) for _ in range(int(rng.integers(2, 4))))
    for y in rows:
        x0 = _u(rng, 0.25, 1.2)
        x1 = _u(rng, max(x0 + 1.5, w * 0.55), w - 0.3)
        lay.texts.append((0.25, y - s * 1.1, s * 0.7, _choice(rng, ("Pay", "To", "Amount", "Sum of", "Order")), False))
        lay.lines.append((x0, y + 0.05, x1, y + 0.05, 0.01))
        lay.fields.append(Slot(x0 + 0.1, y - 0.28, (x1 - x0) * _u(rng, 0.3, 0.8), 0.3))
    bx = _u(rng, 0.3, w - 1.8)
    by = _u(rng, 0.3, 0.6)
    lay.boxes.append((bx, by, 1.4, 0.35, 0.012))
    lay.fields.append(Slot(bx + 0.2, by + 0.03, 1.0, 0.28))
    n = 1 if rng.random() < 0.7 else 2
    sig_len = _u(rng, 1.7, 2.4)
    sy = h - _u(rng, 0.55, 0.8)
    xs = sorted(rng.choice([0.3, w / 2 - sig_len / 2, w - 0.3 - sig_len], size=n, replace=False))
    for x in xs:
        line = rng.random() < 0.75
        if line:
            lay.lines.append((x, sy, x + sig_len, sy, 0.01))
        lay.signatures.append(SignatureSlot(float(x), sy, sig_len, line=line))
        if rng.random() < 0.5:
            lay.texts.append(
                (float(x), sy + 0.05, s * 0.6, _choice(rng, ("Signature", "SIGNATURE", "Authorised Signatory")), False)
            )
    used = {round(float(x), 2) for x in xs}
    free = [x for x in (0.3, w - 0.3 - 1.6) if round(x, 2) not in used]
    if free and rng.random() < 0.6:  # a memo-like field on the same row as a signature
        x = _choice(rng, free)
        lay.lines.append((x, sy + 0.05, x + 1.5, sy + 0.05, 0.01))
        lay.fields.append(Slot(x + 0.1, sy - 0.25, 1.2, 0.27))
    return lay


def layout_for(family: str, rng: np.random.Generator) -> Layout:
    if family in ("us_personal", "us_business"):
        return _layout_us(rng, business=family == "us_business")
    if family == "us_joint":
        return _layout_us(rng, business=False, joint=True)
    if family in ("uk_personal", "uk_company"):
        return _layout_uk(rng, company=family == "uk_company")
    if family in ("in_cts", "in_cts_company"):
        return _layout_in(rng, company=family == "in_cts_company")
    if family == "eu_cmc7":
        return _layout_eu(rng)
    if family == "free":
        return _layout_free(rng)
    raise ValueError(f"unknown layout family {family!r}; choose one of {', '.join(FAMILIES)}")


# ---------------------------------------------------------------- drawing


def _security_background(rng, height: int, width: int, dpi: int) -> np.ndarray:
    """Coverage (0..1) of a light printed security pattern: guilloche, waves, halftone, pantograph."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) / dpi
    cover = np.zeros((height, width), np.float32)
    kinds = rng.choice(
        ["guilloche", "waves", "halftone", "pantograph", "rosette", "plain"],
        size=int(rng.integers(1, 3)),
        replace=False,
    )
    for kind in kinds:
        strength = _u(rng, 0.12, 0.45)
        if kind == "waves" or kind == "guilloche":
            spacing = _u(rng, 0.03, 0.09)
            families = 1 if kind == "waves" else 2
            for _ in range(families):
                amp, k, phase = _u(rng, 0.05, 0.3), _u(rng, 1.5, 6.0), _u(rng, 0, 6.3)
                slope = _u(rng, -0.6, 0.6)
                t = (yy + slope * xx + amp * np.sin(k * xx + phase + 2 * np.sin(0.7 * k * yy))) / spacing
                dist = np.abs(t - np.round(t)) * spacing * dpi  # pixels to the nearest line
                cover = np.maximum(cover, strength * np.clip(1.2 - dist / _u(rng, 0.5, 1.2), 0, 1))
        elif kind == "rosette":
            cx, cy = _u(rng, 0, width / dpi), _u(rng, 0, height / dpi)
            r = np.hypot(xx - cx, yy - cy)
            theta = np.arctan2(yy - cy, xx - cx)
            spacing = _u(rng, 0.04, 0.1)
            t = (r + _u(rng, 0.02, 0.08) * np.sin(int(rng.integers(6, 30)) * theta)) / spacing
            dist = np.abs(t - np.round(t)) * spacing * dpi
            cover = np.maximum(cover, strength * np.clip(1.2 - dist, 0, 1) * (r < _u(rng, 0.6, 2.0)))
        elif kind == "halftone" or kind == "pantograph":
            pitch = _u(rng, 0.012, 0.03) * dpi if kind == "halftone" else _u(rng, 0.008, 0.015) * dpi
            level = 0.5 + 0.5 * np.sin(xx * _u(rng, 0.3, 2.0) + yy * _u(rng, 0.3, 2.0) + _u(rng, 0, 6))
            if kind == "pantograph":  # a hidden word (VOID, COPY) in larger dots
                word = Image.new("L", (width, height), 0)
                font = _font(_pick_font(rng, bold=True), height * _u(rng, 0.25, 0.5))
                ImageDraw.Draw(word).text(
                    (_u(rng, 0.05, 0.5) * width, _u(rng, 0.1, 0.4) * height),
                    _choice(rng, ("VOID", "COPY", "CTS-2010", "ORIGINAL")),
                    fill=255,
                    font=font,
                )
                level = 0.25 + 0.6 * (np.asarray(word, np.float32) / 255)
            gx = (xx * dpi / pitch) % 1 - 0.5
            gy = (yy * dpi / pitch) % 1 - 0.5
            radius = 0.15 + 0.3 * level
            cover = np.maximum(cover, strength * 2 * (np.hypot(gx, gy) < radius))
        else:  # a plain tint
            cover = np.maximum(cover, np.float32(_u(rng, 0.03, 0.12)))
    return np.clip(cover, 0, 1)


def _text(draw, xy, text, font, fill=255):
    draw.multiline_text(xy, text, fill=fill, font=font, spacing=2)


def _draw_print(rng, lay: Layout, dpi: int, size) -> tuple[np.ndarray, np.ndarray]:
    """(print coverage, stamp coverage)."""
    width, height = size
    layer = Image.new("L", size, 0)
    draw = ImageDraw.Draw(layer)
    px = lambda v: int(round(v * dpi))  # noqa: E731
    regular, bold = _pick_font(rng), _pick_font(rng, bold=True)
    if rng.random() < 0.85:  # the border: one, two lines or a microprint band
        inset = px(_u(rng, 0.04, 0.14))
        draw.rectangle(
            [inset, inset, width - 1 - inset, height - 1 - inset],
            outline=int(rng.integers(120, 256)),
            width=max(1, px(_u(rng, 0.005, 0.03))),
        )
        if rng.random() < 0.4:
            inset2 = inset + px(_u(rng, 0.03, 0.06))
            draw.rectangle(
                [inset2, inset2, width - 1 - inset2, height - 1 - inset2], outline=int(rng.integers(80, 200)), width=1
            )
    for x, y, sz, text, is_bold in lay.texts:
        font = _font(bold if is_bold else regular, px(sz))
        _text(draw, (px(x), px(y)), text, font, fill=int(rng.integers(170, 256)))
    for x0, y0, x1, y1, lw in lay.lines:
        draw.line(
            [(px(x0), px(y0)), (px(x1), px(y1))],
            fill=int(rng.integers(150, 256)),
            width=max(1, px(lw * _u(rng, 0.7, 1.8))),
        )
    for x, y, w, h, lw in lay.boxes:
        draw.rectangle([px(x), px(y), px(x + w), px(y + h)], outline=int(rng.integers(150, 256)), width=max(1, px(lw)))
    for x, y, cw, h, count in lay.digit_boxes:
        for i in range(count):
            draw.rectangle(
                [px(x + i * cw), px(y), px(x + (i + 1) * cw), px(y + h)], outline=int(rng.integers(140, 230)), width=1
            )
    if lay.logo:
        x, y, s = (px(v) for v in lay.logo)
        kind = int(rng.integers(0, 3))
        if kind == 0:
            draw.ellipse([x, y, x + s, y + s], fill=int(rng.integers(120, 256)))
            draw.ellipse([x + s // 4, y + s // 4, x + 3 * s // 4, y + 3 * s // 4], fill=0)
        elif kind == 1:
            pts = [
                (x + s / 2 + s / 2 * math.cos(a), y + s / 2 + s / 2 * math.sin(a))
                for a in np.linspace(0, 2 * math.pi, int(rng.integers(3, 8)), endpoint=False)
            ]
            draw.polygon(pts, fill=int(rng.integers(120, 256)))
        else:
            draw.rectangle([x, y, x + s, y + s], outline=255, width=max(2, s // 8))
            draw.text((x + s // 5, y + s // 6), _choice(rng, ("B", "E", "U", "N")), fill=255, font=_font(bold, s * 0.7))
    if lay.crossing:  # account payee: two parallel diagonal lines, top left
        x, y = px(_u(rng, 0.6, 1.6)), px(0.15)
        for d in (0, px(0.12)):
            draw.line(
                [(x + d, y + px(0.9)), (x + d + px(0.5), y)], fill=int(rng.integers(150, 256)), width=max(1, px(0.012))
            )
        draw.text((x + px(0.1), y + px(0.35)), "A/C PAYEE", fill=200, font=_font(regular, px(0.07)))
    code_top = _draw_code_line(rng, draw, lay, dpi, size)
    stamp = np.zeros((height, width), np.float32)
    if lay.stamp:
        simg = Image.new("L", size, 0)
        sd = ImageDraw.Draw(simg)
        cx, cy, r = (px(v) for v in lay.stamp)
        lw = max(1, px(0.015))
        sd.ellipse([cx - r, cy - r, cx + r, cy + r], outline=255, width=lw)
        sd.ellipse(
            [cx - int(r * 0.72), cy - int(r * 0.72), cx + int(r * 0.72), cy + int(r * 0.72)], outline=255, width=lw
        )
        font = _font(bold, r * 0.22)
        for i, ch in enumerate(_choice(rng, COMPANIES)[:18]):
            a = -math.pi * 0.95 + i * math.pi * 1.9 / 18
            sd.text(
                (cx + 0.85 * r * math.cos(a) - r * 0.07, cy + 0.85 * r * math.sin(a) - r * 0.1), ch, fill=255, font=font
            )
        sd.text(
            (cx - r * 0.5, cy - r * 0.12),
            _choice(rng, ("DIRECTOR", "PARTNER", "PROPRIETOR")),
            fill=255,
            font=_font(bold, r * 0.2),
        )
        simg = simg.rotate(_u(rng, -25, 25), center=(cx, cy))
        stamp = np.asarray(simg, np.float32) / 255 * _u(rng, 0.4, 0.9)
    cover = np.asarray(layer, np.float32) / 255
    return cover, stamp, code_top


def _draw_code_line(rng, draw, lay: Layout, dpi: int, size) -> int | None:
    width, height = size
    if lay.code_line == "none":
        return None
    glyph_h = int(0.117 * dpi)
    top = int(round(_code_line_y(lay) * dpi + _u(rng, -0.03, 0.03) * dpi))
    x = int(_u(rng, 0.4, 1.6) * dpi)
    end = width - int(_u(rng, 0.4, 1.0) * dpi)
    if lay.code_line == "e13b":
        cell = 0.125 * dpi
        unit = glyph_h / 9
        glyphs = _micr_glyphs()
        while x < end:
            if rng.random() < 0.1:
                x += int(cell * int(rng.integers(1, 3)))
                continue
            for gx0, gy0, gx1, gy1 in glyphs[int(rng.integers(0, len(glyphs)))]:
                draw.rectangle(
                    [x + gx0 * unit * 0.85, top + gy0 * unit, x + gx1 * unit * 0.85 - 1, top + gy1 * unit - 1], fill=255
                )
            x += int(cell)
    else:  # CMC-7: seven vertical bars per character, digit-like silhouettes
        cell = 0.118 * dpi
        bar = max(1, int(0.006 * dpi))
        while x < end:
            for i in range(7):
                y0 = top + int(rng.integers(0, glyph_h // 3 + 1))
                y1 = top + glyph_h - int(rng.integers(0, glyph_h // 3 + 1))
                bx = x + int(i * cell / 8) + (int(cell / 16) if rng.random() < 0.4 else 0)
                draw.rectangle([bx, y0, bx + bar, y1], fill=255)
            x += int(cell * 1.3)
    return top


def _scaled(dark: np.ndarray, height_px: float, max_width_px: float) -> np.ndarray:
    h, w = dark.shape
    scale = min(height_px / max(h, 1), max_width_px / max(w, 1))
    size = (max(2, int(round(w * scale))), max(2, int(round(h * scale))))
    img = Image.fromarray(dark.astype(np.float32) / 255, mode="F").resize(
        size, Image.Resampling.BILINEAR, reducing_gap=2.0
    )
    return np.clip(np.asarray(img, np.float32), 0, 1)


def _word(rng, dark: np.ndarray) -> np.ndarray:
    """A word-like piece of someone's signature: a horizontal window, trimmed to its ink."""
    h, w = dark.shape
    frac = _u(rng, 0.35, 1.0)
    x0 = int(rng.integers(0, max(1, int(w * (1 - frac)) + 1)))
    piece = dark[:, x0 : x0 + max(4, int(w * frac))]
    rows, cols = np.flatnonzero(piece.max(axis=1) > 64), np.flatnonzero(piece.max(axis=0) > 64)
    if not rows.size:
        return dark
    return piece[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _paste(cover: np.ndarray, ink: np.ndarray, x: int, y: int) -> tuple[int, int, int, int] | None:
    H, W = cover.shape
    h, w = ink.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x1 <= x0 or y1 <= y0:
        return None
    cover[y0:y1, x0:x1] = np.maximum(cover[y0:y1, x0:x1], ink[y0 - y : y1 - y, x0 - x : x1 - x])
    return x0, y0, x1, y1


PAPERS = ((255, 255, 255), (250, 247, 238), (236, 242, 250), (244, 238, 246), (240, 248, 238), (252, 244, 230))
PRINT_COLOURS = ((20, 20, 25), (25, 35, 90), (70, 30, 30), (30, 60, 40))
PATTERN_COLOURS = ((120, 150, 200), (200, 160, 120), (150, 190, 150), (190, 150, 190), (160, 160, 160))
PEN_COLOURS = ((15, 20, 60), (10, 10, 10), (20, 40, 140), (40, 40, 50))
STAMP_COLOURS = ((90, 40, 150), (40, 60, 170), (160, 40, 60))


def generate_cheque(
    seed: int,
    ink,
    *,
    family: str | None = None,
    families=TRAINING_FAMILIES,
    capture: str | None = None,
    captures=CAPTURES,
    signatures: list[np.ndarray] | None = None,
    signers: int | None = None,
    dpi: int | None = None,
) -> GeneratedCheque:
    """One whole cheque, deterministic for (seed, ink source, arguments).

    ``ink``: a ``DatasetInk`` or ``SyntheticInk``; signatures and field handwriting are drawn
    from its writers. ``signatures``: darkness arrays (``ink_darkness``) to sign with instead
    (the benchmark's test-writer signatures); ``signers`` how many signature slots to fill
    (default: one, or two where the layout has two lines, half the time)."""
    rng = np.random.default_rng(seed)
    family = family or _choice(rng, tuple(families))
    capture = capture or _choice(rng, tuple(captures))
    dpi = int(dpi or _choice(rng, (200, 200, 240, 300)))
    lay = layout_for(family, rng)
    width, height = int(round(lay.width * dpi)), int(round(lay.height * dpi))

    background = _security_background(rng, height, width, dpi)
    printed, stamp, _ = _draw_print(rng, lay, dpi, (width, height))
    code = np.zeros_like(printed)
    if lay.code_line != "none":  # the code line band belongs to the code line class
        band = int(round(_code_line_y(lay) * dpi - 0.08 * dpi))
        code[band:] = printed[band:]
        printed = printed.copy()
        printed[band:] = np.where(code[band:] > 0, 0, printed[band:])

    writers = list(ink.writers)
    n_slots = len(lay.signatures)
    if signatures is not None:
        count = min(len(signatures), n_slots)
    else:
        count = signers or (n_slots if n_slots > 1 and rng.random() < 0.6 else 1)
        count = min(count, n_slots)
    slot_order = sorted(rng.choice(n_slots, size=count, replace=False).tolist())
    signer_keys = [_choice(rng, writers) for _ in range(count)]

    handwriting = np.zeros_like(printed)
    others = [w for w in writers if w not in signer_keys] or writers
    for slot in lay.fields:
        if rng.random() < 0.12:
            continue  # an empty field
        dark = _word(rng, ink.sample(_choice(rng, others), rng))
        piece = _scaled(dark, _u(rng, 0.6, 1.1) * slot.h * dpi, slot.w * dpi)
        piece *= _u(rng, 0.7, 1.0)
        x = int((slot.x + _u(rng, 0, 0.2)) * dpi)
        y = int((slot.y + slot.h) * dpi - piece.shape[0] + _u(rng, -0.05, 0.08) * dpi)
        _paste(handwriting, piece, x, y)

    sig_layers, crossing = [], []
    for i, slot_index in enumerate(slot_order):
        slot = lay.signatures[slot_index]
        dark = signatures[i] if signatures is not None else ink.sample(signer_keys[i], rng)
        target_h = _u(rng, 0.35, 0.7) * dpi
        piece = _scaled(dark, target_h, slot.w * _u(rng, 0.75, 1.1) * dpi)
        crosses = bool(slot.line and rng.random() < 0.5)
        bottom = slot.y + (_u(rng, 0.03, 0.2) if crosses else -_u(rng, 0.0, 0.12))
        if not slot.line:
            bottom = slot.y + _u(rng, -0.2, 0.1)
        x = int((slot.x + _u(rng, -0.1, max(0.0, slot.w - piece.shape[1] / dpi))) * dpi)
        y = int(bottom * dpi) - piece.shape[0]
        layer = np.zeros_like(printed)
        _paste(layer, piece * _u(rng, 0.75, 1.0), x, y)
        sig_layers.append(layer)
        crossing.append(crosses)

    # Composite: paper, then pattern, print, code line, stamp, handwriting, signatures (multiply).
    paper = (
        np.array(_choice(rng, PAPERS), np.float32)
        if capture == "colour" or rng.random() < 0.5
        else np.full(3, 255.0, np.float32)
    )
    keep_colour = capture == "colour" or (capture == "jpeg" and rng.random() < 0.5)
    channels = 3 if keep_colour else 1  # a greyscale capture is composited in grey (a third of the work)
    tone = (lambda c: np.asarray(c, np.float32)) if keep_colour else _luma
    paper = tone(paper)
    rgb = np.broadcast_to(paper, (height, width, channels)).copy()
    pen = np.array(_choice(rng, PEN_COLOURS), np.float32)
    layers = [
        (background, _choice(rng, PATTERN_COLOURS), BACKGROUND),
        (printed, _choice(rng, PRINT_COLOURS), PRINT),
        (code, (15, 15, 15), CODE_LINE),
        (stamp, _choice(rng, STAMP_COLOURS), STAMP),
        (handwriting, _choice(rng, PEN_COLOURS), HANDWRITING),
    ] + [(layer, pen, SIGNATURE + i) for i, layer in enumerate(sig_layers)]
    classes = np.zeros((height, width), np.uint8)
    flat_rgb, flat_classes = rgb.reshape(-1, channels), classes.reshape(-1)
    for cover, colour, label in layers:  # only where the layer has ink: most layers are sparse
        where = np.flatnonzero(cover.reshape(-1) > 0.004)
        c = cover.reshape(-1)[where, None]
        flat_rgb[where] = flat_rgb[where] * (1 - c) + tone(colour) * c
        owned = where[c[:, 0] >= OWNS]
        if label == BACKGROUND:
            owned = owned[flat_classes[owned] == PAPER]
        flat_classes[owned] = label
    pixels = np.clip(rgb, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB") if keep_colour else Image.fromarray(pixels[..., 0], "L")
    image, classes_img = _capture(rng, image, Image.fromarray(classes), capture, dpi)
    classes = np.asarray(classes_img)
    boxes = []
    for i in range(len(sig_layers)):
        rows = np.flatnonzero((classes == SIGNATURE + i).any(axis=1))
        cols = np.flatnonzero((classes == SIGNATURE + i).any(axis=0))
        boxes.append(
            (int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1))
            if rows.size
            else (0, 0, 0, 0)
        )
    image = _final_image(rng, image, capture)
    return GeneratedCheque(image, boxes, classes, family, capture, dpi, seed, crossing, signer_keys)


def _luma(colour) -> np.ndarray:
    """The grey level Pillow's convert("L") gives a colour."""
    r, g, b = colour
    return np.array([(r * 299 + g * 587 + b * 114) / 1000], np.float32)


def _capture(rng, image: Image.Image, classes: Image.Image, capture: str, dpi: int):
    """Skew, blur and sensor noise; greyscale unless the capture keeps colour."""
    angle = float(np.clip(rng.normal(0, 0.8), -2.5, 2.5))
    if abs(angle) > 0.05:
        white = (255, 255, 255) if image.mode == "RGB" else 255
        image = image.rotate(angle, resample=Image.Resampling.BILINEAR, expand=False, fillcolor=white)
        classes = classes.rotate(angle, resample=Image.Resampling.NEAREST, expand=False, fillcolor=0)
    blur = _u(rng, 0.0, 0.5) * dpi / 200
    if blur > 0.15:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    sigma = _u(rng, 0.0, 6.0)
    if sigma > 0.5:
        arr = np.asarray(image, np.float32)
        arr = arr + rng.normal(0, sigma, arr.shape).astype(np.float32)
        image = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), image.mode)
    return image, classes


def _final_image(rng, image: Image.Image, capture: str) -> Image.Image:
    """The pixels a bank's file decodes to: JPEG artefacts, or a thresholded or dithered bilevel."""
    if capture == "jpeg":
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=int(rng.integers(35, 90)))
        decoded = Image.open(io.BytesIO(buf.getvalue()))
        decoded.load()
        return decoded
    if capture in ("bilevel", "dithered", "group4"):
        grey = image.convert("L")
        if capture == "dithered":
            return grey.convert("1")  # Floyd-Steinberg, as archive scanners and Pillow do
        level = int(rng.integers(110, 170))
        return grey.point(lambda v: 255 if v >= level else 0).convert("1", dither=Image.Dither.NONE)
    return image


def encode(image: Image.Image, capture: str, dpi: int = 200) -> bytes:
    """The file a bank would send: group 4 TIFF, JPEG, or PNG (lossless, so it decodes to ``image``)."""
    buf = io.BytesIO()
    if capture == "group4":
        image.save(buf, "TIFF", compression="group4", dpi=(dpi, dpi))
    elif capture == "jpeg":
        image.save(buf, "JPEG", quality=95, dpi=(dpi, dpi))  # already carries the capture's artefacts
    else:
        image.save(buf, "PNG", dpi=(dpi, dpi))
    return buf.getvalue()


def iou(a, b) -> float:
    """Intersection over union of two (x, y, width, height) boxes."""
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0, min(ax1, bx1) - max(a[0], b[0]))
    ih = max(0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0
