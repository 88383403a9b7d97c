import io
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

import x937
from x937.writer import CashLetterWriter, CheckItem, file_bytes, g4_tiff

FRAMINGS = [
    ("ascii", True, b""),
    ("ascii", False, b"\n"),
    ("ascii", False, b"\r\n"),
    ("ascii", False, b""),
    ("ebcdic", True, b""),
    ("ebcdic", False, b"\x25"),  # EBCDIC line feed
    ("ebcdic", False, b"\r\n"),
]


def cheque_tiff(seed: int, size=(400, 180)) -> bytes:
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    draw.rectangle([5, 5, size[0] - 6, size[1] - 6], outline=0)
    draw.line([(40, 120), (120 + seed % 50, 90), (200, 130)], fill=0, width=3)
    draw.text((20, 20), f"PAY {seed}", fill=0)
    return g4_tiff(image)


def items(n: int, image=True) -> list[CheckItem]:
    return [
        CheckItem(1000 + i, f"{40000 + i}/{i:04d}", str(i + 1), cheque_tiff(i) if image else None) for i in range(n)
    ]


def read(data: bytes, **options):
    reader = x937.ClearingFileReader(io.BytesIO(data), **options)
    return list(reader), reader.summary


# The files in ../shared/x9 (counts as its README states them)


def test_shared_file_with_returns(shared_x9):
    found, summary = read((shared_x9 / "BNK20180905121042882-A.icl").read_bytes())
    assert (summary.encoding, summary.length_prefixed) == ("ascii", True)
    assert len(found) == 4 and summary.returns_skipped == 4 and summary.cash_letters == 2
    assert [i.amount_cents for i in found] == [100000] * 4
    assert {i.account for i in found} == {"5558881"}
    assert all(i.front_image_length == 1 and not i.problems for i in found)


@pytest.mark.parametrize("name", ["BNK20181010121042882-A.icl", "creditRecord61.icl"])
def test_shared_files_with_credits(shared_x9, name):
    found, summary = read((shared_x9 / name).read_bytes())
    assert len(found) == 4 and summary.credits_skipped == 1 and summary.returns_skipped == 0
    assert summary.complete


def test_shared_file_without_length_prefix(shared_x9):
    found, summary = read((shared_x9 / "BNK20181015-A.icl").read_bytes())
    assert (summary.length_prefixed, summary.cash_letters, summary.bundles) == (False, 4, 8)
    assert len(found) == 800 and summary.items_total_cents == 800 * 100000
    # Its writer counts every record of an item in the controls' item counts (7 per check):
    # the amounts reconcile, the item counts do not, and the reader says so.
    assert summary.complete and not summary.totals_reconciled
    assert {d.what for d in summary.discrepancies} == {"items"}
    bundle = next(d for d in summary.discrepancies if d.level == "bundle")
    assert (bundle.declared, bundle.found) == (700, 100)
    # Every check repeats sequence number 1: keys stay unique.
    assert len({i.key for i in found}) == 800 and found[1].key == "1#2"


def test_every_crasher_gets_an_error_naming_its_record(shared_x9):
    crashers = sorted((shared_x9 / "crashers").iterdir())
    assert len(crashers) == 11
    for path in crashers:
        with pytest.raises(x937.X9Error) as caught, path.open("rb") as stream:
            x937.validate(stream)
        assert caught.value.record is not None and caught.value.reason, path.name
        assert str(caught.value).startswith(f"record {caught.value.record}: ")


# Files written here


@pytest.mark.parametrize("encoding, prefix, line_end", FRAMINGS)
def test_generated_files_round_trip(encoding, prefix, line_end):
    written = items(5)
    written[2].front_image = None
    written[3].back_image = cheque_tiff(99)
    data = file_bytes(written, encoding=encoding, length_prefix=prefix, line_end=line_end, bundle_size=2)
    found, summary = read(data)
    assert (summary.encoding, summary.length_prefixed) == (encoding, prefix)
    assert [i.key for i in found] == ["1", "2", "3", "4", "5"]
    assert [i.account for i in found] == [str(40000 + i) for i in range(5)]
    assert [i.amount_cents for i in found] == [1000, 1001, 1002, 1003, 1004]
    assert [i.bundle for i in found] == [1, 1, 2, 2, 3]
    assert found[0].front_image == written[0].front_image
    assert found[3].front_image == written[3].front_image  # the front, not the back
    assert Image.open(io.BytesIO(found[0].front_image)).info["compression"] == "group4"
    assert found[2].front_image is None and found[2].problems == [
        "no front image (no image view data with view side 0 and image bytes)"
    ]
    assert summary.totals_reconciled and summary.items_total_cents == sum(range(1000, 1005))


def test_validation_pass_keeps_no_image():
    found, summary = read(file_bytes(items(3)), keep_images=False)
    assert [i.front_image for i in found] == [None] * 3 and all(i.front_image_length > 0 for i in found)
    assert summary.totals_reconciled


@pytest.mark.parametrize(
    "declared, record, what",
    [
        ({"bundle_items": 9}, 3 + 3 * 5 + 1, "items"),  # 01 10 20, three items of 5 records, then 70
        ({"bundle_amount": 1}, 19, "amount in cents"),
        ({"letter_items": 2}, 20, "items"),
        ({"file_amount": 7}, 21, "amount in cents"),
    ],
)
def test_reconciliation_names_the_control_record(declared, record, what):
    _, summary = read(file_bytes(items(3), declared=declared))
    assert summary.complete and not summary.totals_reconciled
    assert [(d.record, d.what) for d in summary.discrepancies] == [(record, what)]


def test_account_rules():
    assert x937.default_account_rule("12345678/1001") == "12345678"
    assert x937.default_account_rule(" 12-345 678/") == "12345678"
    assert x937.default_account_rule("9876543") == "9876543"
    assert x937.default_account_rule("/1001") is None
    # The common US layouts: the group just left of the last On-Us symbol is the account.
    assert x937.default_account_rule("1001/12345678/") == "12345678"  # the serial first
    assert x937.default_account_rule("/12345678/1001") == "12345678"
    assert x937.default_account_rule("12345678//") == "12345678"
    # An unreadable MICR digit never yields a (wrong) account.
    assert x937.default_account_rule("1234*678/1001") is None
    assert x937.default_account_rule("12345678/10*1") == "12345678"  # only the serial is unreadable
    rule = x937.regex_account_rule(r"^(?P<account>\d{6})")
    assert rule("1234567890/1") == "123456" and rule("12/3") is None and rule("1*3456/1") is None
    data = file_bytes([CheckItem(5, "777000111/42", "1", cheque_tiff(1))])
    found, _ = read(data, rule_for_routing=lambda routing: rule if routing == "031300012" else None)
    assert found[0].account == "777000"


def test_items_carry_their_bundles_business_date():
    data = file_bytes(items(3), business_date="20260301", bundle_size=2)
    found, _ = read(data)
    assert [i.business_date.isoformat() for i in found] == ["2026-03-01"] * 3
    # A bundle whose date is no date falls back to its cash letter's; with neither, no date.
    bundle_date = data.index(b"2001" + b"121042882" * 2) + 22  # the first bundle header's field 5
    assert data[bundle_date : bundle_date + 8] == b"20260301"
    damaged = data[:bundle_date] + b"20261399" + data[bundle_date + 8 :]
    assert [i.business_date.isoformat() for i in read(damaged)[0]] == ["2026-03-01"] * 3
    blank = data.replace(b"20260301", b"        ")
    assert [i.business_date for i in read(blank)[0]] == [None] * 3


def test_item_problems_do_not_stop_the_file():
    data = file_bytes([CheckItem(5, "/42", "1", cheque_tiff(1)), CheckItem(6, "55/1", "2", cheque_tiff(2))])
    found, summary = read(data)
    assert found[0].account is None and found[0].problems == ["no account number in the On-Us field '/42'"]
    assert found[1].problems == [] and summary.complete
    bad_amount = data.replace(b"0000000005", b"00000000x5", 1)
    found, _ = read(bad_amount)
    assert found[0].amount_cents is None and "is not a number of cents" in found[0].problems[-1]


# Damage


def record_starts(data: bytes) -> list[int]:
    starts, at = [], 0
    while at < len(data):
        starts.append(at)
        at += 4 + int.from_bytes(data[at : at + 4], "big")
    return starts


@pytest.mark.parametrize("encoding, prefix, line_end", FRAMINGS)
def test_cut_at_every_record_boundary_names_the_last_record(encoding, prefix, line_end):
    prefixed = file_bytes(items(3), encoding=encoding)
    starts = record_starts(prefixed)
    lengths = [end - start - 4 for start, end in zip(starts, starts[1:] + [len(prefixed)], strict=True)]
    data = file_bytes(items(3), encoding=encoding, length_prefix=prefix, line_end=line_end)
    framing = 4 if prefix else len(line_end)
    boundary = 0
    for number, length in enumerate(lengths[:-1], start=1):
        boundary += length + framing
        with pytest.raises(x937.X9Error) as caught:
            read(data[:boundary])
        assert caught.value.record == number
        assert "ends without a file control record (99)" in caught.value.reason


@pytest.mark.parametrize("encoding, prefix, line_end", FRAMINGS)
def test_cut_at_every_byte_is_an_error(encoding, prefix, line_end):
    data = file_bytes(items(2), encoding=encoding, length_prefix=prefix, line_end=line_end)
    complete = len(data) - len(line_end)  # cutting only the last line end leaves a whole file
    for cut in range(complete):
        with pytest.raises(x937.X9Error):
            read(data[:cut])
    for cut in range(complete, len(data) + 1):
        assert len(read(data[:cut])[0]) == 2


SMALL_FILES = [file_bytes(items(2), encoding=e, length_prefix=p, line_end=le) for e, p, le in FRAMINGS]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.sampled_from(range(len(SMALL_FILES))),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.binary(min_size=0, max_size=6)), max_size=4),
    cut=st.floats(0, 1),
)
def test_damaged_files_read_or_fail_clearly(which, edits, cut):
    data = bytearray(SMALL_FILES[which])
    for where, junk in edits:  # overwrite bytes, then cut anywhere
        at = int(where * len(data))
        data[at : at + len(junk)] = junk
    data = bytes(data[: int(cut * len(data))])
    try:
        found, summary = read(data)
    except x937.X9Error as error:
        assert error.reason and (error.record is None or error.record >= 1)
    else:
        assert summary.complete and len(found) <= 2


def test_huge_declared_lengths_allocate_nothing():
    data = bytearray(file_bytes(items(1)))
    view, image = record_starts(bytes(data))[5:7]  # records 6 (50) and 7 (52)
    assert data[image + 4 : image + 6] == b"52"
    data[image : image + 4] = (9_000_000).to_bytes(4, "big")
    with pytest.raises(x937.X9Error, match="the file ends inside the rest of the record") as caught:
        read(bytes(data))
    assert caught.value.record == 7
    data = bytearray(file_bytes(items(1)))
    data[view : view + 4] = (2**32 - 1).to_bytes(4, "big")
    with pytest.raises(x937.X9Error, match="far beyond its layout"):
        read(bytes(data))


def test_structure_errors_name_the_record():
    data = file_bytes(items(1), length_prefix=False, line_end=b"\n")
    lines = data.split(b"\n")
    without_bundle = b"\n".join(lines[:2] + lines[3:])
    with pytest.raises(x937.X9Error, match=r"^record 3: type 25 \(check detail\): out of place \(outside a bundle\)"):
        read(without_bundle)
    with pytest.raises(x937.X9Error, match="data after the file control record"):
        read(data + b"01 again")
    assert len(read(data + b"\n\n  \n")[0]) == 1
    with pytest.raises(x937.X9Error, match="the file is empty"):
        read(b"")
    with pytest.raises(x937.X9Error, match="unknown record type"):
        read(data.replace(b"\n26", b"\nQ6", 1))


class CountingStream(io.RawIOBase):
    """A file object that records the largest read asked of it."""

    def __init__(self, data: bytes):
        self.inner, self.largest = io.BytesIO(data), 0

    def readable(self):
        return True

    def read(self, n=-1):
        self.largest = max(self.largest, n if n >= 0 else 1 << 62)
        return self.inner.read(n)


def test_streams_in_bounded_reads_and_memory(tmp_path):
    path = tmp_path / "big.icl"
    image = cheque_tiff(1, size=(1600, 700)) + b"\0" * 20000  # ~20 kB per item
    with path.open("wb") as out, CashLetterWriter(out) as writer:
        writer.write_items(CheckItem(100, f"{i}/1", str(i), image) for i in range(1, 1001))
    assert path.stat().st_size > 20_000_000
    stream = CountingStream(path.read_bytes())
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        reader = x937.ClearingFileReader(stream)
        count = sum(1 for _ in reader)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert count == 1000 and reader.summary.totals_reconciled
    assert stream.largest <= 1 << 20
    assert peak < 4_000_000, peak  # the file's bytes are held here only once, outside the reader
