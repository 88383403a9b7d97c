"""Write image cash letters (for tests and benchmarks): ASCII or EBCDIC, with or without the
4-byte length before each record, with group 4 TIFF front images. Streams: items may come from a
generator, and only the running totals are kept."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from . import records as R
from .reader import ASCII, EBCDIC

ROUTING = "03130001"  # payor bank routing, without its check digit
CHECK_DIGIT = "2"
ECE_ROUTING = "121042882"
DATE = "20261207"


@dataclass
class CheckItem:
    amount_cents: int
    on_us: str  # e.g. "12345678/1001": account left of the last "/", serial number right
    sequence_number: str
    front_image: bytes | None  # TIFF bytes; None writes no image view at all
    back_image: bytes | None = None


def g4_tiff(image, dpi: int = 200) -> bytes:
    """A PIL image as a bilevel TIFF with CCITT group 4 compression, as cheque images travel
    (thresholded at mid-grey, as a cheque scanner does, not dithered)."""
    buffer = io.BytesIO()
    bilevel = image.convert("L").point(lambda v: 255 if v >= 128 else 0).convert("1", dither=0)
    bilevel.save(buffer, "TIFF", compression="group4", dpi=(dpi, dpi))
    return buffer.getvalue()


def _field(value, width: int, numeric: bool = False) -> str:
    text = str(value)
    text = text.rjust(width, "0") if numeric else text.ljust(width)
    if len(text) > width:
        raise ValueError(f"{value!r} does not fit in {width} characters")
    return text


def _record(*parts: str, length: int = R.FIXED_LENGTH) -> str:
    text = "".join(parts)
    if len(text) > length:
        raise ValueError(f"record {text[:2]} is {len(text)} characters, more than {length}")
    return text.ljust(length)


class CashLetterWriter:
    """``with CashLetterWriter(f, encoding="ebcdic") as w: w.write_items(items)``: one cash letter
    of bundles of ``bundle_size`` checks. ``declared`` overrides control totals (to test
    reconciliation): {"bundle_items": n, "file_amount": n, ...}."""

    def __init__(
        self,
        out: BinaryIO,
        encoding: str = ASCII,
        length_prefix: bool = True,
        line_end: bytes = b"",
        bundle_size: int = 100,
        declared: dict | None = None,
        business_date: str = DATE,
    ):
        if encoding not in (ASCII, EBCDIC):
            raise ValueError(encoding)
        self.out, self.encoding, self.length_prefix = out, encoding, length_prefix
        self.codec = "ascii" if encoding == ASCII else "cp037"
        self.line_end = line_end if not length_prefix else b""
        self.bundle_size = bundle_size
        self.declared = declared or {}
        self.business_date = business_date  # YYYYMMDD, of the cash letter and its bundles
        self.records = 0
        self.bundle_items = self.bundle_cents = self.bundles = 0
        self.letter_items = self.letter_cents = 0
        self.in_bundle = False

    def _write(self, text: str, binary: bytes = b"") -> None:
        data = text.encode(self.codec) + binary
        if self.length_prefix:
            self.out.write(len(data).to_bytes(4, "big"))
        self.out.write(data + self.line_end)
        self.records += 1

    def __enter__(self):
        self._write(
            _record(
                "01",
                "03",
                "T",
                _field(ECE_ROUTING, 9),
                _field(ECE_ROUTING, 9),
                DATE,
                "1200",
                "N",
                _field("Payor Bank", 18),
                _field("Presenting Bank", 18),
                "A",
                "US",
            )
        )
        self._write(
            _record(
                "10",
                "01",
                _field(ECE_ROUTING, 9),
                _field(ECE_ROUTING, 9),
                _field(self.business_date, 8),
                DATE,
                "1200",
                "I",
                "G",
                _field("CL000001", 8),
                _field("Clearing Ops", 14),
                _field("5550100000", 10),
                "C",
            )
        )
        return self

    def _open_bundle(self) -> None:
        self.bundles += 1
        self.bundle_items = self.bundle_cents = 0
        self.in_bundle = True
        self._write(
            _record(
                "20",
                "01",
                _field(ECE_ROUTING, 9),
                _field(ECE_ROUTING, 9),
                _field(self.business_date, 8),
                DATE,
                _field(f"B{self.bundles}", 10),
                _field(self.bundles, 4, numeric=True),
                "01",
            )
        )

    def _close_bundle(self) -> None:
        items = self.declared.get("bundle_items", self.bundle_items)
        cents = self.declared.get("bundle_amount", self.bundle_cents)
        self._write(
            _record("70", _field(items, 4, numeric=True), _field(cents, 12, numeric=True), _field(cents, 12, True))
        )
        self.letter_items += self.bundle_items
        self.letter_cents += self.bundle_cents
        self.in_bundle = False

    def _image(self, sequence: str, side: int, image: bytes) -> None:
        self._write(
            _record(
                "50",
                "1",
                _field(ECE_ROUTING, 9),
                DATE,
                "00",  # TIFF
                "00",  # group 4
                _field(len(image), 7, numeric=True),
                str(side),
                "00",
                "0",
            )
        )
        fixed = _record(
            "52",
            _field(ECE_ROUTING, 9),
            DATE,
            "01",
            _field(sequence, 15),
            " " * 48,
            "0",
            " " * 16,
            "0000",
            length=R.IMAGE_DATA_FIXED,
        )
        self._write(fixed + "00000" + _field(len(image), 7, numeric=True), image)
        self._write(_record("54", "2"))

    def write_item(self, item: CheckItem) -> None:
        if not self.in_bundle:
            self._open_bundle()
        self._write(
            _record(
                "25",
                " " * 15,
                " ",
                ROUTING,
                CHECK_DIGIT,
                _field(item.on_us.rjust(20), 20),  # MICR fields are right-aligned
                _field(item.amount_cents, 10, numeric=True),
                _field(item.sequence_number, 15),
                "G",
                "D",
                "1",
                "Y",
                "01",
                "0",
                "B",
            )
        )
        self._write(_record("26", "1", _field(ECE_ROUTING, 9), DATE, _field(item.sequence_number, 15)))
        if item.front_image is not None:
            self._image(item.sequence_number, 0, item.front_image)
        if item.back_image is not None:
            self._image(item.sequence_number, 1, item.back_image)
        self.bundle_items += 1
        self.bundle_cents += item.amount_cents
        if self.bundle_items >= self.bundle_size:
            self._close_bundle()

    def write_items(self, items: Iterable[CheckItem]) -> None:
        for item in items:
            self.write_item(item)

    def __exit__(self, kind, value, traceback) -> None:
        if kind is not None:
            return
        if self.in_bundle:
            self._close_bundle()
        items = self.declared.get("letter_items", self.letter_items)
        cents = self.declared.get("letter_amount", self.letter_cents)
        self._write(
            _record(
                "90",
                _field(self.bundles, 6, numeric=True),
                _field(items, 8, numeric=True),
                _field(cents, 14, numeric=True),
                _field(0, 9, numeric=True),
                _field("Presenting Bank", 18),
                DATE,
            )
        )
        items = self.declared.get("file_items", self.letter_items)
        cents = self.declared.get("file_amount", self.letter_cents)
        self._write(
            _record(
                "99",
                _field(1, 6, numeric=True),
                _field(self.records + 1, 8, numeric=True),
                _field(items, 8, numeric=True),
                _field(cents, 16, numeric=True),
                _field("Clearing Ops", 14),
                _field("5550100000", 10),
            )
        )


def write_file(
    out: BinaryIO,
    items: Iterable[CheckItem],
    encoding: str = ASCII,
    length_prefix: bool = True,
    line_end: bytes = b"",
    bundle_size: int = 100,
    declared: dict | None = None,
    business_date: str = DATE,
) -> None:
    with CashLetterWriter(out, encoding, length_prefix, line_end, bundle_size, declared, business_date) as writer:
        writer.write_items(items)


def file_bytes(items: Iterable[CheckItem], **options) -> bytes:
    buffer = io.BytesIO()
    write_file(buffer, items, **options)
    return buffer.getvalue()
