"""Dates as the people using Mitra see them: in Western Indonesia Time (WIB)."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

WIB = ZoneInfo("Asia/Jakarta")


def today_wib() -> date:
    """Today's date in Jakarta: windows start and end on Indonesian calendar days."""
    return datetime.now(WIB).date()
