"""Indonesian date phrases → calendar dates (the one place for this rule).

Borrowers describe when a transaction happened in many ways: "kemarin",
"3 hari lalu", "12 Januari", "tgl 5 kemarin", "2 minggu yang lalu",
"senin kemarin", "05/01/2024". Everything resolves against *today in
Asia/Jakarta*, and a transaction date can never lie in the future.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Optional
# Asia/Jakarta is UTC+7 all year (no DST since 1964); a fixed offset avoids
# depending on the system tz database.
JAKARTA = dt.timezone(dt.timedelta(hours=7), "WIB")

MONTHS = {
    "januari": 1, "jan": 1, "january": 1,
    "februari": 2, "feb": 2, "pebruari": 2, "february": 2, "febuari": 2,
    "maret": 3, "mar": 3, "march": 3,
    "april": 4, "apr": 4,
    "mei": 5, "may": 5,
    "juni": 6, "jun": 6, "june": 6,
    "juli": 7, "jul": 7, "july": 7,
    "agustus": 8, "agu": 8, "agt": 8, "ags": 8, "aug": 8, "august": 8,
    "september": 9, "sep": 9, "sept": 9,
    "oktober": 10, "okt": 10, "oct": 10, "october": 10,
    "november": 11, "nov": 11, "nopember": 11,
    "desember": 12, "des": 12, "dec": 12, "december": 12,
}
WEEKDAYS = {
    "senin": 0, "selasa": 1, "rabu": 2, "kamis": 3,
    "jumat": 4, "jum'at": 4, "jumaat": 4, "sabtu": 5, "minggu": 6, "ahad": 6,
}
NUMBER_WORDS = {
    "se": 1, "satu": 1, "dua": 2, "tiga": 3, "empat": 4, "lima": 5,
    "enam": 6, "tujuh": 7, "delapan": 8, "sembilan": 9, "sepuluh": 10,
}
UNIT_DAYS = {"hari": 1, "hr": 1, "minggu": 7, "mgg": 7, "pekan": 7}

_MONTH_ALT = "|".join(sorted(MONTHS, key=len, reverse=True))
_NUM = r"(\d{1,2}|se|satu|dua|tiga|empat|lima|enam|tujuh|delapan|sembilan|sepuluh)"
_AGO = r"(?:yang|yg)?\s*(?:lalu|yl|kemarin|kmrn|kemaren|sebelumnya)"


@dataclass(frozen=True)
class ParsedDate:
    """Outcome of parsing: a date, or the reason it was refused."""

    value: Optional[dt.date]
    error: Optional[str] = None  # "future" | "unknown"


def today_jakarta(now: Optional[dt.datetime] = None) -> dt.date:
    """Return today's date in Asia/Jakarta."""
    now = now or dt.datetime.now(tz=JAKARTA)
    return now.astimezone(JAKARTA).date()


def _to_int(token: str) -> int:
    return int(token) if token.isdigit() else NUMBER_WORDS[token]


def _months_back(day: dt.date, months: int) -> dt.date:
    month_index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(month_index, 12)
    month += 1
    for candidate_day in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, candidate_day)
        except ValueError:
            continue
    raise ValueError("unreachable")


def _safe_date(year: int, month: int, day: int) -> Optional[dt.date]:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def parse_indonesian_date(text: str, today: Optional[dt.date] = None) -> ParsedDate:
    """Resolve an Indonesian (or mixed English) date phrase against ``today``.

    Returns ``ParsedDate(value=date)`` or ``ParsedDate(None, "future")`` when
    the phrase names a day after today, ``ParsedDate(None, "unknown")`` when
    nothing date-like was found.
    """
    today = today or today_jakarta()
    raw = (text or "").lower().strip()
    t = re.sub(r"[,!?]", " ", raw)
    t = re.sub(r"\s+", " ", t)

    # ISO: 2024-01-05
    m = re.search(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", t)
    if m:
        return _finish(_safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3))), today)
    # Numeric day/month[/year]: 5/1/2024, 05-01-24, 5/1
    m = re.search(r"\b(\d{1,2})[/\-.](\d{1,2})(?:[/\-.](\d{2,4}))?\b", t)
    if m:
        day, month = int(m.group(1)), int(m.group(2))
        return _finish(_with_year(day, month, m.group(3), today), today)
    # 12 Januari [2024], 12 jan, tgl 12 januari
    m = re.search(rf"\b(\d{{1,2}})\s*({_MONTH_ALT})\b\.?\s*(\d{{4}})?", t)
    if m:
        return _finish(_with_year(int(m.group(1)), MONTHS[m.group(2)], m.group(3), today), today)
    # Januari 12 (English order)
    m = re.search(rf"\b({_MONTH_ALT})\s+(\d{{1,2}})\b(?:\s*(\d{{4}}))?", t)
    if m:
        return _finish(_with_year(int(m.group(2)), MONTHS[m.group(1)], m.group(3), today), today)

    if re.search(r"\b(hari ini|td pagi|tadi|barusan|today|tdi)\b", t):
        return ParsedDate(today)
    if re.search(r"\b(kemarin lusa|kmrn lusa|lusa kemarin)\b", t):
        return ParsedDate(today - dt.timedelta(days=2))

    # tgl 5 kemarin / tanggal 5 / tgl 5 bulan ini / tgl 28 bulan lalu
    m = re.search(r"\b(?:tgl|tanggal|tangal|tg)\.?\s*(\d{1,2})\b", t)
    if m:
        day = int(m.group(1))
        if "bulan lalu" in t or "bulan kemarin" in t:
            prev = _months_back(today.replace(day=1), 1)
            return _finish(_safe_date(prev.year, prev.month, day), today)
        candidate = _safe_date(today.year, today.month, day)
        if "bulan ini" in t:
            return _finish(candidate, today)
        if candidate is None or candidate > today:
            prev = _months_back(today.replace(day=1), 1)
            candidate = _safe_date(prev.year, prev.month, day)
        return _finish(candidate, today)

    # N hari/minggu lalu, seminggu lalu, 2 minggu yang lalu
    m = re.search(rf"\b{_NUM}\s*(hari|hr|minggu|mgg|pekan)\s*{_AGO}", t)
    if m:
        return ParsedDate(today - dt.timedelta(days=_to_int(m.group(1)) * UNIT_DAYS[m.group(2)]))
    m = re.search(r"\b(seminggu|sepekan)\b", t)
    if m:
        return ParsedDate(today - dt.timedelta(days=7))
    # N bulan lalu, sebulan lalu
    m = re.search(rf"\b{_NUM}\s*bulan\s*{_AGO}", t) or re.search(r"\b(se)bulan\b", t)
    if m:
        return ParsedDate(_months_back(today, _to_int(m.group(1))))
    if re.search(r"\b(minggu lalu|minggu kemarin|pekan lalu|last week)\b", t):
        return ParsedDate(today - dt.timedelta(days=7))
    if re.search(r"\b(bulan lalu|bulan kemarin|last month)\b", t) and not re.search(r"\d", t):
        return ParsedDate(_months_back(today, 1))

    # hari senin kemarin / senin lalu / jumat
    for name, weekday in WEEKDAYS.items():
        if re.search(rf"\b{re.escape(name)}\b", t):
            if name == "minggu" and re.search(r"\bminggu\s+(lalu|kemarin|ini|depan)\b", t):
                continue
            back = (today.weekday() - weekday) % 7
            if back == 0 and not re.search(r"\bini\b", t):
                back = 7
            return ParsedDate(today - dt.timedelta(days=back))

    if re.search(r"\b(kemarin|kemaren|kmrn|kmarin|kmren|kmaren|yesterday)\b", t):
        return ParsedDate(today - dt.timedelta(days=1))
    if re.search(r"\b(besok|lusa|tomorrow|depan)\b", t):
        return ParsedDate(None, "future")
    return ParsedDate(None, "unknown")


def _with_year(day: int, month: int, year_text: Optional[str], today: dt.date) -> Optional[dt.date]:
    """Build a date; without a year, take the latest such date not after today."""
    if not 1 <= month <= 12:
        return None
    if year_text:
        year = int(year_text)
        if year < 100:
            year += 2000
        return _safe_date(year, month, day)
    candidate = _safe_date(today.year, month, day)
    if candidate is not None and candidate > today:
        candidate = _safe_date(today.year - 1, month, day)
    return candidate


def _finish(value: Optional[dt.date], today: dt.date) -> ParsedDate:
    if value is None:
        return ParsedDate(None, "unknown")
    if value > today:
        return ParsedDate(None, "future")
    return ParsedDate(value)


def format_date_id(value: dt.date) -> str:
    """Format a date the Indonesian way: 5 Januari 2024."""
    names = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli",
             "Agustus", "September", "Oktober", "November", "Desember"]
    return f"{value.day} {names[value.month - 1]} {value.year}"
