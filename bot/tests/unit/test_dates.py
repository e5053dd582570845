import datetime as dt

import pytest

from actions.dates import format_date_id, parse_indonesian_date, today_jakarta

TODAY = dt.date(2024, 3, 15)  # a Friday


@pytest.mark.parametrize("phrase, expected", [
    ("kemarin", dt.date(2024, 3, 14)),
    ("kmrn sore", dt.date(2024, 3, 14)),
    ("hari ini", TODAY),
    ("3 hari lalu", dt.date(2024, 3, 12)),
    ("3 hari yang lalu", dt.date(2024, 3, 12)),
    ("tiga hari yg lalu", dt.date(2024, 3, 12)),
    ("2 minggu yang lalu", dt.date(2024, 3, 1)),
    ("seminggu lalu", dt.date(2024, 3, 8)),
    ("minggu lalu", dt.date(2024, 3, 8)),
    ("sebulan lalu", dt.date(2024, 2, 15)),
    ("12 Januari", dt.date(2024, 1, 12)),
    ("tgl 12 jan", dt.date(2024, 1, 12)),
    ("5 februari 2023", dt.date(2023, 2, 5)),
    ("tgl 5 kemarin", dt.date(2024, 3, 5)),
    ("tanggal 20", dt.date(2024, 2, 20)),        # the 20th has not come yet this month
    ("tgl 28 bulan lalu", dt.date(2024, 2, 28)),
    ("20 Desember", dt.date(2023, 12, 20)),      # without a year: the latest past one
    ("05/01/2024", dt.date(2024, 1, 5)),
    ("2024-03-01", dt.date(2024, 3, 1)),
    ("senin kemarin", dt.date(2024, 3, 11)),
    ("hari jumat", dt.date(2024, 3, 8)),
    ("kemarin lusa", dt.date(2024, 3, 13)),
])
def test_phrases_resolve_against_today(phrase, expected):
    assert parse_indonesian_date(phrase, TODAY).value == expected


@pytest.mark.parametrize("phrase", ["besok", "20 Maret 2024", "2024-12-01", "lusa", "minggu depan"])
def test_future_dates_are_refused(phrase):
    parsed = parse_indonesian_date(phrase, TODAY)
    assert parsed.value is None and parsed.error == "future"


@pytest.mark.parametrize("phrase", ["", "pokoknya dulu", "31 Februari 2024", "gatau lupa"])
def test_nonsense_is_unknown(phrase):
    parsed = parse_indonesian_date(phrase, TODAY)
    assert parsed.value is None and parsed.error == "unknown"


def test_today_is_jakarta_time():
    # 2024-03-14 18:30 UTC is already 15 March in Jakarta (UTC+7).
    now = dt.datetime(2024, 3, 14, 18, 30, tzinfo=dt.timezone.utc)
    assert today_jakarta(now) == dt.date(2024, 3, 15)


def test_format_date_id():
    assert format_date_id(dt.date(2024, 8, 17)) == "17 Agustus 2024"
