"""Times of year as users give them (months, days, dates) → year fractions."""

import datetime

import numpy as np
import pytest

from satclip._time import column_times, year_fractions


def test_months_are_mid_month():
    np.testing.assert_allclose(year_fractions(month=[1, 7, 12]), [0.5 / 12, 6.5 / 12, 11.5 / 12])
    assert year_fractions(month=7).shape == ()
    assert year_fractions() is None


def test_days_of_the_year_are_mid_day_and_cyclic():
    t = year_fractions(day_of_year=[1, 183, 366])
    np.testing.assert_allclose(t[:2], [0.5 / 365.25, 182.5 / 365.25])
    assert 0 <= t[2] < 1  # 31 December of a leap year wraps past the 365.25-day year


def test_dates_of_every_kind_agree():
    pd = pytest.importorskip("pandas")
    expected = (datetime.date(2023, 7, 15).timetuple().tm_yday - 0.5) / 365
    for value in ("2023-07-15", np.datetime64("2023-07-15"), datetime.date(2023, 7, 15)):
        assert float(np.ravel(year_fractions(month=value))[0]) == pytest.approx(expected)
    for value in (
        "2023-07-15",
        np.datetime64("2023-07-15"),
        datetime.date(2023, 7, 15),
        datetime.datetime(2023, 7, 15, 12, 0),
        pd.Timestamp("2023-07-15 12:00"),
        pd.Series(pd.to_datetime(["2023-07-15"])),
        pd.DatetimeIndex(["2023-07-15"]),
    ):
        # pandas holds a date as its midnight: half a day before the midday a date stands for.
        assert float(np.ravel(year_fractions(month=value))[0]) == pytest.approx(expected, abs=0.51 / 365), (
            value
        )
    # A leap year's fraction is of its own 366 days.
    assert float(year_fractions(month="2024-12-31")) == pytest.approx(365.5 / 366)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"month": 13}, "13.0 is not a month"),
        ({"month": [1, 0]}, "row 1"),
        ({"month": 6.5}, "whole numbers"),
        ({"month": ["2024-01-01", "soon"]}, "row 1 \\('soon'\\)"),
        ({"month": np.array(["2024-01-01", "NaT"], dtype="datetime64[D]")}, "row 1"),
        ({"day_of_year": 0}, "1-366"),
        ({"day_of_year": 400}, "1-366"),
        ({"month": 1, "day_of_year": 1}, "not both"),
    ],
)
def test_bad_times_name_the_row_and_the_fix(kwargs, message):
    with pytest.raises(ValueError, match=message):
        year_fractions(**kwargs)


def test_file_columns_of_months_and_dates():
    np.testing.assert_allclose(column_times([1, "7", 12.0], "m", "month"), [0.5 / 12, 6.5 / 12, 11.5 / 12])
    t = column_times(["2023-01-01", datetime.date(2023, 7, 15)], "d", "date")
    assert t[0] == pytest.approx(0.5 / 365)
    with pytest.raises(ValueError, match="--month-col m holds dates; name it as the date column"):
        column_times(["2023-01-01"], "m", "month")
    with pytest.raises(ValueError, match="--date-col d holds numbers"):
        column_times([1, 2], "d", "date")
    with pytest.raises(ValueError, match="row 1 has no month"):
        column_times([1, None], "m", "month")
    with pytest.raises(ValueError, match="row 1001"):  # counted from the chunk's first row
        column_times([1, 13], "m", "month", first_row=1000)
