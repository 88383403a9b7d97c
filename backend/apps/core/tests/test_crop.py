"""parse_crop: the crop box of a verification (form text or a JSON body's list)."""

import pytest

from apps.core.images import parse_crop


@pytest.mark.parametrize("value", ["1,2,3,4", "[1, 2, 3, 4]", [1, 2, 3, 4], (1, 2, 3, 4), ["1", "2", "3", "4"]])
def test_the_accepted_spellings(value):
    assert parse_crop(value) == [1, 2, 3, 4]


@pytest.mark.parametrize("value", [None, "", []])
def test_no_crop(value):
    assert parse_crop(value) is None


@pytest.mark.parametrize("value", [1.5, 7, {"x": 1}, True, [1, 2, 3], "1,2,3,x", [1, 2, 3, None]])
def test_anything_else_is_a_readable_value_error(value):
    with pytest.raises(ValueError, match="crop"):
        parse_crop(value)
