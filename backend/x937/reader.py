"""A streaming reader of X9.37 / X9.100-187 image cash letters.

It reads a binary file object front to back and holds one record (and at most one front image)
at a time, so a file of any size is read in constant memory. Lenient where real files differ:

- EBCDIC (code page 037) or ASCII, detected from the first record;
- records after a 4-byte big-endian length, or without it (fixed 80-byte records, one per line,
  with or without line ends; records 52 and 68 are read by their declared lengths, since image
  bytes may contain a line end);

and strict about the structure, so a damaged file stops with an ``X9Error`` that names the record
number and why, instead of a crash, a hang or silently wrong totals.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import BinaryIO

from . import records as R

ASCII, EBCDIC = "ascii", "ebcdic"
_CHUNK = 1 << 20
# The largest a record 52 may declare: its fixed part and its three length-limited parts.
_MAX_52 = R.IMAGE_DATA_FIXED + 9999 + R.DIGITAL_SIGNATURE_LENGTH_DIGITS + 99999 + R.IMAGE_LENGTH_DIGITS + 9_999_999
_LINE_ENDS = {ASCII: b"\r\n", EBCDIC: b"\r\n\x15\x25"}
_TRAILING_PAD = {ASCII: b"\r\n\x00 \x1a", EBCDIC: b"\r\n\x15\x25\x00\x40 "}


class X9Error(ValueError):
    """The file cannot be read on from here: ``record`` (1-based, None before the first) and why."""

    def __init__(self, record: int | None, reason: str, offset: int | None = None):
        self.record, self.reason, self.offset = record, reason, offset
        super().__init__(f"record {record}: {reason}" if record else reason)


AccountRule = Callable[[str], "str | None"]


def _account_digits(text: str) -> str | None:
    """The digits of an account group; None when none is left or one was unreadable (``*`` is how a
    MICR reader marks a character it could not read: a guessed account must never be decided against)."""
    if "*" in text:
        return None
    digits = re.sub(r"\D", "", text)
    return digits or None


def default_account_rule(on_us: str) -> str | None:
    """The account in an On-Us field as US cheques lay it out (``/`` stands for the MICR On-Us symbol):
    the group just left of the last ``/``, digits only (spaces and dashes dropped), else all the
    field's digits when it has no ``/``. "12345678/1001" (the account, then the serial number or a
    transaction code), "12345678/" (a business cheque: its serial is in the auxiliary On-Us) and
    "1001/12345678/" all give 12345678. None when no digit is left or a digit was unreadable."""
    text = on_us.strip()
    if "/" in text:
        groups = [g.strip() for g in text.rsplit("/", 1)[0].split("/")]
        text = next((g for g in reversed(groups) if g), "")
    return _account_digits(text)


def regex_account_rule(pattern: str) -> AccountRule:
    """A per-bank rule: the ``account`` group (else the first group, else the match) of ``pattern``
    searched in the On-Us field, digits only (None when it holds an unreadable ``*``)."""
    compiled = re.compile(pattern)

    def rule(on_us: str) -> str | None:
        match = compiled.search(on_us)
        if not match:
            return None
        if "account" in compiled.groupindex:
            text = match.group("account")
        else:
            text = match.group(1) if compiled.groups else match.group(0)
        return _account_digits(text or "")

    return rule


def parse_date(text: str) -> date | None:
    """A YYYYMMDD field as a date; None when it is blank or no real date."""
    text = text.strip()
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


@dataclass
class Item:
    """One forward-presentment check (record 25 and the records after it)."""

    index: int  # 1-based position among the file's checks
    key: str  # the ECE item sequence number; "#2", "#3"... appended when a file repeats one
    sequence_number: str
    record_number: int  # of its record 25
    cash_letter: int
    bundle: int
    payor_routing: str
    on_us: str
    account: str | None
    amount_cents: int | None
    front_image: bytes | None = None
    front_image_length: int = 0
    # The bundle's business date (record 20), else the cash letter's (record 10): the date the cheque
    # is presented, on which its signatories' validity is judged (the written date is not in the file).
    business_date: date | None = None
    problems: list[str] = field(default_factory=list)  # why this item cannot be decided on its own


@dataclass
class Discrepancy:
    record: int
    level: str  # bundle, cash letter, file
    what: str  # items, amount
    declared: int | None
    found: int

    def __str__(self) -> str:
        declared = "nothing readable" if self.declared is None else str(self.declared)
        return f"record {self.record} ({self.level} control): {self.what} declared {declared}, found {self.found}"


@dataclass
class Summary:
    """What the reader saw so far; complete once the iteration ended without error."""

    encoding: str = ""
    length_prefixed: bool = False
    records: int = 0
    cash_letters: int = 0
    bundles: int = 0
    items: int = 0  # checks (record 25)
    items_total_cents: int = 0
    returns_skipped: int = 0
    credits_skipped: int = 0
    other_records_skipped: int = 0
    discrepancies: list[Discrepancy] = field(default_factory=list)
    complete: bool = False

    @property
    def totals_reconciled(self) -> bool:
        return self.complete and not self.discrepancies


class _Source:
    """A binary stream read through a small buffer: peek, take, skip, always in bounded chunks
    (a declared length is never handed to ``read`` whole, so a lying length allocates nothing)."""

    def __init__(self, raw: BinaryIO):
        self.raw, self.buf, self.offset, self.eof = raw, bytearray(), 0, False

    def _fill(self, n: int) -> None:
        while len(self.buf) < n and not self.eof:
            chunk = self.raw.read(min(_CHUNK, max(n - len(self.buf), 65536)))
            if not chunk:
                self.eof = True
            else:
                self.buf += chunk

    def peek(self, n: int) -> bytes:
        self._fill(n)
        return bytes(self.buf[:n])

    def take(self, n: int) -> bytes:
        self._fill(n)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        self.offset += len(out)
        return out

    def skip(self, n: int) -> int:
        done = 0
        while done < n:
            part = len(self.take(min(n - done, _CHUNK)))
            if not part:
                break
            done += part
        return done

    def at_end(self) -> bool:
        self._fill(1)
        return not self.buf


@dataclass
class _Record:
    number: int
    type: str
    text: str  # the record decoded (for record 52: its fixed part only)
    offset: int
    image: bytes | None = None
    image_length: int = 0


def _digits(text: str) -> int | None:
    stripped = text.strip()
    return int(stripped) if stripped.isdigit() else None


class _Records:
    """Splits the stream into records and decodes their text; knows nothing of the structure."""

    def __init__(self, raw: BinaryIO, want_image: Callable[[], bool]):
        self.src = _Source(raw)
        self.want_image = want_image
        self.number = 0
        head = self.src.peek(6)
        if not head:
            raise X9Error(None, "the file is empty", 0)
        if head[:2] in (b"01", b"\xf0\xf1"):
            self.prefixed = False
            self.encoding = ASCII if head[:2] == b"01" else EBCDIC
        elif len(head) == 6 and head[4:6] in (b"01", b"\xf0\xf1"):
            self.prefixed = True
            self.encoding = ASCII if head[4:6] == b"01" else EBCDIC
        else:
            raise X9Error(
                1,
                "the file does not start with a file header (record type 01) in ASCII or EBCDIC, "
                "with or without a 4-byte length before it",
                0,
            )
        self.codec = "ascii" if self.encoding == ASCII else "cp037"
        self.line_ends = _LINE_ENDS[self.encoding]

    def decode(self, data: bytes) -> str:
        return data.decode(self.codec, errors="replace")

    def _error(self, reason: str, offset: int | None = None) -> X9Error:
        return X9Error(self.number, reason, self.src.offset if offset is None else offset)

    def _skip_line_ends(self) -> None:
        while True:
            byte = self.src.peek(1)
            if not byte or byte not in self.line_ends:
                return
            self.src.take(1)

    def _skip_trailing_pad(self) -> bool:
        """After the file control record: True if only padding (line ends, blanks, NULs) is left."""
        pad = _TRAILING_PAD[self.encoding]
        while True:
            chunk = self.src.peek(4096)
            if not chunk:
                return True
            if chunk.strip(pad):
                return False
            self.src.take(len(chunk))

    def trailing_data(self) -> bool:
        return not self._skip_trailing_pad()

    def __iter__(self) -> Iterator[_Record]:
        while not self.src.at_end():
            self.number += 1
            start = self.src.offset
            if self.prefixed:
                yield self._prefixed(start)
            else:
                yield self._unprefixed(start)

    def _type(self, first: bytes, start: int) -> str:
        record_type = self.decode(first[:2])
        if record_type not in R.KNOWN_TYPES:
            raise self._error(f"unknown record type {first[:2]!r} at byte {start}", start)
        return record_type

    def _need(self, data: bytes, n: int, what: str, start: int) -> bytes:
        if len(data) < n:
            raise self._error(f"the file ends inside {what}: {len(data)} of {n} bytes (it is truncated)", start)
        return data

    def _skip_exact(self, n: int, what: str, start: int) -> None:
        skipped = self.src.skip(n)
        if skipped < n:
            raise self._error(f"the file ends inside {what}: {skipped} of {n} bytes (it is truncated)", start)

    def _prefixed(self, start: int) -> _Record:
        prefix = self._need(self.src.take(4), 4, "a record length", start)
        length = int.from_bytes(prefix, "big")
        if length < 2:
            raise self._error(f"declares a record length of {length} bytes", start)
        first = self._need(self.src.peek(2), 2, "a record type", start)
        record_type = self._type(first, start)
        if record_type == R.IMAGE_VIEW_DATA:
            if length > _MAX_52:
                raise self._error(f"record 52 declares {length} bytes, more than its fields can hold", start)
            return self._image_view_data(start, length)
        if length > 1 << 16:
            raise self._error(f"{R.name_of(record_type)} declares {length} bytes, far beyond its layout", start)
        data = self._need(self.src.take(length), length, f"a {length}-byte record", start)
        return _Record(self.number, record_type, self.decode(data).ljust(R.FIXED_LENGTH), start)

    def _unprefixed(self, start: int) -> _Record:
        first = self._need(self.src.peek(2), 2, "a record type", start)
        record_type = self._type(first, start)
        if record_type == R.IMAGE_VIEW_DATA:
            record = self._image_view_data(start, None)
        elif record_type == R.USER_RECORD:
            head = self._need(self.src.take(R.USER_DATA_FIXED), R.USER_DATA_FIXED, "a user record", start)
            size = _digits(self.decode(head[R.USER_DATA_LENGTH]))
            if size is None:
                raise self._error("user record: the length of user data is not a number", start)
            self._skip_exact(size, "the user data", start)
            record = _Record(self.number, record_type, self.decode(head), start)
        else:
            window = self.src.peek(R.FIXED_LENGTH)
            # One record per line: a line end inside the 80 bytes ends a short record early.
            cut = next((i for i, b in enumerate(window) if b in self.line_ends), None)
            if cut is None:
                self._need(window, R.FIXED_LENGTH, f"{R.name_of(record_type)}", start)
                cut = R.FIXED_LENGTH
            data = self.src.take(cut)
            record = _Record(self.number, record_type, self.decode(data).ljust(R.FIXED_LENGTH), start)
        self._skip_line_ends()
        return record

    def _image_view_data(self, start: int, length: int | None) -> _Record:
        """Record 52, field by field: the image is read by its declared length (and kept only when
        asked), never by a line end."""
        fixed = self._need(self.src.take(R.IMAGE_DATA_FIXED), R.IMAGE_DATA_FIXED, "an image view data record", start)
        text = self.decode(fixed)
        key_length = _digits(text[R.IMAGE_REFERENCE_KEY_LENGTH]) or 0
        if text[R.IMAGE_REFERENCE_KEY_LENGTH].strip() and _digits(text[R.IMAGE_REFERENCE_KEY_LENGTH]) is None:
            raise self._error("image view data: the image reference key length is not a number", start)
        self._skip_exact(key_length, "the image reference key", start)
        raw = self._need(
            self.src.take(R.DIGITAL_SIGNATURE_LENGTH_DIGITS),
            R.DIGITAL_SIGNATURE_LENGTH_DIGITS,
            "the digital signature length",
            start,
        )
        signature_field = self.decode(raw)
        signature_length = _digits(signature_field) or 0
        if signature_field.strip() and _digits(signature_field) is None:
            raise self._error("image view data: the digital signature length is not a number", start)
        self._skip_exact(signature_length, "the digital signature", start)
        raw = self._need(self.src.take(R.IMAGE_LENGTH_DIGITS), R.IMAGE_LENGTH_DIGITS, "the image data length", start)
        image_field = self.decode(raw)
        image_length = _digits(image_field)
        if image_length is None:
            if image_field.strip():
                raise self._error(f"image view data: the image data length {image_field!r} is not a number", start)
            image_length = 0
        used = R.IMAGE_DATA_FIXED + key_length + R.DIGITAL_SIGNATURE_LENGTH_DIGITS
        used += signature_length + R.IMAGE_LENGTH_DIGITS + image_length
        if length is not None and used > length:
            raise self._error(
                f"image view data: its fields declare {used} bytes but the record length is {length}", start
            )
        image = None
        if self.want_image():
            image = self._need(self.src.take(image_length), image_length, "the image data", start)
        else:
            self._skip_exact(image_length, "the image data", start)
        if length is not None and length > used:
            self._skip_exact(length - used, "the rest of the record", start)
        return _Record(self.number, R.IMAGE_VIEW_DATA, text, start, image, image_length)


class ClearingFileReader:
    """Iterate over the checks of an image cash letter: ``for item in ClearingFileReader(f): ...``.

    Returns (31-35) and credits (61, 62) are skipped and counted; ``summary`` holds the counts and,
    once the iteration ends, the reconciliation against records 70, 90 and 99. Structural damage
    raises ``X9Error``; a check whose own fields are unusable comes out with ``problems``.
    ``keep_images=False`` reads past every image (a quick validation pass).
    """

    def __init__(
        self,
        raw: BinaryIO,
        account_rule: AccountRule | None = None,
        keep_images: bool = True,
        rule_for_routing: Callable[[str], AccountRule] | None = None,
    ):
        self.raw = raw
        self.account_rule = account_rule or default_account_rule
        self.rule_for_routing = rule_for_routing
        self.keep_images = keep_images
        self.summary = Summary()

    def __iter__(self) -> Iterator[Item]:
        return _Walk(self).items()


class _Walk:
    def __init__(self, reader: ClearingFileReader):
        self.reader = reader
        self.summary = reader.summary
        self.records = _Records(reader.raw, self._want_image)
        self.summary.encoding = self.records.encoding
        self.summary.length_prefixed = self.records.prefixed
        self.level = "start"  # start, file, cash_letter, bundle, ended
        self.item: Item | None = None
        self.in_return = False
        self.addenda_allowed = False
        self.view_front: bool | None = None  # side of the last record 50, until its 52
        self.seen_keys: dict[str, int] = {}
        self.bundle_items = self.bundle_cents = 0
        self.letter_items = self.letter_cents = 0
        self.file_items = self.file_cents = 0
        self.letter_date: date | None = None
        self.bundle_date: date | None = None

    def _want_image(self) -> bool:
        return self.reader.keep_images and self.item is not None and bool(self.view_front)

    def _fail(self, record: _Record, reason: str) -> X9Error:
        return X9Error(record.number, f"{R.name_of(record.type)}: {reason}", record.offset)

    def _expect(self, record: _Record, *levels: str) -> None:
        if self.level not in levels:
            where = {
                "start": "before the file header",
                "file": "outside a cash letter",
                "cash_letter": "outside a bundle",
                "bundle": "inside a bundle",
                "ended": "after the file control record",
            }[self.level]
            raise self._fail(record, f"out of place ({where})")

    def _finish_item(self) -> Item | None:
        item, self.item = self.item, None
        self.view_front = None
        self.addenda_allowed = self.in_return = False
        if item is None:
            return None
        if item.front_image_length == 0:
            item.problems.append("no front image (no image view data with view side 0 and image bytes)")
        return item

    def _count_item(self, cents: int | None) -> None:
        self.bundle_items += 1
        self.bundle_cents += cents or 0

    # Reconciled: item counts and amounts (returns are items too), what the clearing totals are made of.
    def _check(self, record: _Record, declared_text: str, found: int, level: str, what: str) -> None:
        declared = _digits(declared_text)
        if declared != found:
            self.summary.discrepancies.append(Discrepancy(record.number, level, what, declared, found))

    def items(self) -> Iterator[Item]:
        summary = self.summary
        for record in self.records:
            summary.records = record.number
            kind, text = record.type, record.text
            if kind in (R.CHECK_DETAIL, R.RETURN_DETAIL, R.BUNDLE_CONTROL) or kind in R.CREDITS:
                done = self._finish_item()
                if done is not None:
                    yield done
            if kind == R.FILE_HEADER:
                self._expect(record, "start")
                self.level = "file"
            elif kind == R.CASH_LETTER_HEADER:
                self._expect(record, "file")
                self.level = "cash_letter"
                summary.cash_letters += 1
                self.letter_items = self.letter_cents = 0
                self.letter_date = parse_date(text[R.CASH_LETTER_BUSINESS_DATE])
            elif kind == R.BUNDLE_HEADER:
                self._expect(record, "cash_letter")
                self.level = "bundle"
                summary.bundles += 1
                self.bundle_items = self.bundle_cents = 0
                self.bundle_date = parse_date(text[R.BUNDLE_BUSINESS_DATE]) or self.letter_date
            elif kind == R.CHECK_DETAIL:
                self._expect(record, "bundle")
                self.item = self._new_item(record)
                self._count_item(self.item.amount_cents)
                self.addenda_allowed = True
            elif kind in R.CHECK_ADDENDA:
                if self.item is None or not self.addenda_allowed:
                    raise self._fail(record, "does not follow a check detail (25) or its addenda")
            elif kind == R.RETURN_DETAIL:
                self._expect(record, "bundle")
                summary.returns_skipped += 1
                self._count_item(_digits(text[R.RETURN_AMOUNT]))
                self.in_return = self.addenda_allowed = True
            elif kind in R.RETURN_ADDENDA:
                if not (self.in_return and self.addenda_allowed):
                    raise self._fail(record, "does not follow a return (31) or its addenda")
            elif kind == R.IMAGE_VIEW_DETAIL:
                if self.item is None and not self.in_return:
                    raise self._fail(record, "does not follow a check detail (25) or a return (31)")
                self.addenda_allowed = False
                self.view_front = text[R.VIEW_SIDE] == "0" and text[R.VIEW_IMAGE_INDICATOR] != "0"
            elif kind == R.IMAGE_VIEW_DATA:
                if self.view_front is None:
                    raise self._fail(record, "does not follow an image view detail (50)")
                if self.item is not None and self.view_front and self.item.front_image_length == 0:
                    self.item.front_image, self.item.front_image_length = record.image, record.image_length
                self.view_front = False
            elif kind == R.IMAGE_VIEW_ANALYSIS:
                if self.item is None and not self.in_return:
                    raise self._fail(record, "does not follow an image view")
            elif kind in R.CREDITS:
                self._expect(record, "cash_letter", "bundle")
                summary.credits_skipped += 1
            elif kind == R.BUNDLE_CONTROL:
                self._expect(record, "bundle")
                self._check(record, text[R.BUNDLE_ITEMS], self.bundle_items, "bundle", "items")
                self._check(record, text[R.BUNDLE_AMOUNT], self.bundle_cents, "bundle", "amount in cents")
                self.letter_items += self.bundle_items
                self.letter_cents += self.bundle_cents
                self.level = "cash_letter"
            elif kind == R.CASH_LETTER_CONTROL:
                self._expect(record, "cash_letter")
                self._check(record, text[R.CASH_LETTER_ITEMS], self.letter_items, "cash letter", "items")
                self._check(record, text[R.CASH_LETTER_AMOUNT], self.letter_cents, "cash letter", "amount in cents")
                self.file_items += self.letter_items
                self.file_cents += self.letter_cents
                self.level = "file"
            elif kind == R.FILE_CONTROL:
                self._expect(record, "file")
                self._check(record, text[R.FILE_ITEMS], self.file_items, "file", "items")
                self._check(record, text[R.FILE_AMOUNT], self.file_cents, "file", "amount in cents")
                self.level = "ended"
                if self.records.trailing_data():
                    raise X9Error(record.number + 1, "data after the file control record (99)", None)
            else:  # 68 and the other known records: anywhere inside the file
                self._expect(record, "file", "cash_letter", "bundle")
                summary.other_records_skipped += 1
        if self.level != "ended":
            last = summary.records
            raise X9Error(
                last or None,
                "the file ends without a file control record (99): it is truncated"
                if last
                else "the file holds no record",
            )
        summary.complete = True

    def _new_item(self, record: _Record) -> Item:
        text = record.text
        summary = self.summary
        summary.items += 1
        sequence = text[R.CHECK_SEQUENCE].strip()
        seen = self.seen_keys.get(sequence, 0) + 1
        self.seen_keys[sequence] = seen
        key = sequence if seen == 1 else f"{sequence}#{seen}"
        routing = (text[R.CHECK_PAYOR_ROUTING] + text[R.CHECK_PAYOR_CHECK_DIGIT]).strip()
        on_us = text[R.CHECK_ON_US].strip()
        rule = self.reader.rule_for_routing(routing) if self.reader.rule_for_routing else self.reader.account_rule
        problems = []
        account = rule(on_us)
        if account is None:
            problems.append(f"no account number in the On-Us field {on_us!r}")
        amount = _digits(text[R.CHECK_AMOUNT])
        if amount is None:
            problems.append(f"the amount {text[R.CHECK_AMOUNT].strip()!r} is not a number of cents")
        else:
            summary.items_total_cents += amount
        if not sequence:
            problems.append("no item sequence number")
        return Item(
            index=summary.items,
            key=key,
            sequence_number=sequence,
            record_number=record.number,
            cash_letter=summary.cash_letters,
            bundle=summary.bundles,
            payor_routing=routing,
            on_us=on_us,
            account=account,
            amount_cents=amount,
            business_date=self.bundle_date,
            problems=problems,
        )


def validate(raw: BinaryIO, **options) -> Summary:
    """Read the whole file without keeping images: its summary, or ``X9Error``."""
    reader = ClearingFileReader(raw, keep_images=False, **options)
    for _ in reader:
        pass
    return reader.summary
