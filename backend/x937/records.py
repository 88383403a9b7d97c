"""Record types and the field positions this package reads and writes (X9.37 DSTU 2003 /
X9.100-187), as 0-based slices of a record's bytes (the standard counts from 1)."""

from __future__ import annotations

FIXED_LENGTH = 80

FILE_HEADER = "01"
CASH_LETTER_HEADER = "10"
BUNDLE_HEADER = "20"
CHECK_DETAIL = "25"
CHECK_ADDENDA = ("26", "27", "28")
RETURN_DETAIL = "31"
RETURN_ADDENDA = ("32", "33", "34", "35")
IMAGE_VIEW_DETAIL = "50"
IMAGE_VIEW_DATA = "52"
IMAGE_VIEW_ANALYSIS = "54"
CREDITS = ("61", "62")
USER_RECORD = "68"
BUNDLE_CONTROL = "70"
CASH_LETTER_CONTROL = "90"
FILE_CONTROL = "99"
# Defined by the standard, nothing here needs them: skipped (account totals, box and routing summaries).
OTHER_KNOWN = ("40", "41", "75", "85")

KNOWN_TYPES = frozenset(
    [
        FILE_HEADER,
        CASH_LETTER_HEADER,
        BUNDLE_HEADER,
        CHECK_DETAIL,
        *CHECK_ADDENDA,
        RETURN_DETAIL,
        *RETURN_ADDENDA,
        IMAGE_VIEW_DETAIL,
        IMAGE_VIEW_DATA,
        IMAGE_VIEW_ANALYSIS,
        *CREDITS,
        USER_RECORD,
        BUNDLE_CONTROL,
        CASH_LETTER_CONTROL,
        FILE_CONTROL,
        *OTHER_KNOWN,
    ]
)

# 10 Cash Letter Header, 20 Bundle Header: the business date (YYYYMMDD), fields 5 of each
CASH_LETTER_BUSINESS_DATE = slice(22, 30)
BUNDLE_BUSINESS_DATE = slice(22, 30)

# 25 Check Detail
CHECK_AUXILIARY_ON_US = slice(2, 17)
CHECK_PAYOR_ROUTING = slice(18, 26)
CHECK_PAYOR_CHECK_DIGIT = slice(26, 27)
CHECK_ON_US = slice(27, 47)
CHECK_AMOUNT = slice(47, 57)
CHECK_SEQUENCE = slice(57, 72)

# 31 Return
RETURN_AMOUNT = slice(31, 41)
RETURN_SEQUENCE = slice(53, 68)

# 50 Image View Detail
VIEW_IMAGE_INDICATOR = slice(2, 3)
VIEW_SIDE = slice(31, 32)  # 0 front, 1 back

# 52 Image View Data: fixed part, then three length-prefixed variable parts
IMAGE_DATA_SEQUENCE = slice(21, 36)
IMAGE_DATA_FIXED = 105
IMAGE_REFERENCE_KEY_LENGTH = slice(101, 105)
DIGITAL_SIGNATURE_LENGTH_DIGITS = 5
IMAGE_LENGTH_DIGITS = 7

# 68 User Record
USER_DATA_FIXED = 45
USER_DATA_LENGTH = slice(38, 45)

# 70 Bundle Control
BUNDLE_ITEMS = slice(2, 6)
BUNDLE_AMOUNT = slice(6, 18)

# 90 Cash Letter Control
CASH_LETTER_BUNDLES = slice(2, 8)
CASH_LETTER_ITEMS = slice(8, 16)
CASH_LETTER_AMOUNT = slice(16, 30)

# 99 File Control
FILE_CASH_LETTERS = slice(2, 8)
FILE_RECORDS = slice(8, 16)
FILE_ITEMS = slice(16, 24)
FILE_AMOUNT = slice(24, 40)

NAMES = {
    FILE_HEADER: "file header",
    CASH_LETTER_HEADER: "cash letter header",
    BUNDLE_HEADER: "bundle header",
    CHECK_DETAIL: "check detail",
    "26": "check detail addendum A",
    "27": "check detail addendum B",
    "28": "check detail addendum C",
    RETURN_DETAIL: "return",
    "32": "return addendum A",
    "33": "return addendum B",
    "34": "return addendum C",
    "35": "return addendum D",
    IMAGE_VIEW_DETAIL: "image view detail",
    IMAGE_VIEW_DATA: "image view data",
    IMAGE_VIEW_ANALYSIS: "image view analysis",
    "61": "credit",
    "62": "credit reconciliation",
    USER_RECORD: "user record",
    BUNDLE_CONTROL: "bundle control",
    CASH_LETTER_CONTROL: "cash letter control",
    FILE_CONTROL: "file control",
    "40": "account totals detail",
    "41": "non-hit total detail",
    "75": "box summary",
    "85": "routing number summary",
}


def name_of(record_type: str) -> str:
    return f"type {record_type} ({NAMES[record_type]})" if record_type in NAMES else f"type {record_type!r}"
