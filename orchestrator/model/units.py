"""Quantities with units, as researchers write them in YAML.

Durations are stored in seconds (float), bandwidths in Mbit/s, loss as a fraction.
A bare number is rejected for durations and bandwidths: '15' could be ms or s, and a
mistaken unit silently changes an experiment by a factor of 1000. Digits are ASCII only
(Python's float() would read Arabic-Indic digits), and `at_most` bounds a field by what the
emulation can do.
"""
from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

_NUM = r"(?P<num>-?[0-9]{1,15}(?:\.[0-9]{0,15})?|-?\.[0-9]{1,15})"
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0}
_PER_SECOND = {"ns": 1e9, "us": 1e6, "µs": 1e6, "ms": 1e3}     # divide: 9/1e3 == 0.009 exactly
_BANDWIDTH_UNITS = {
    "kbit": 1e-3, "kbps": 1e-3, "mbit": 1.0, "mbps": 1.0, "gbit": 1e3, "gbps": 1e3,
}
_DURATION_RE = re.compile(_NUM + r"[ \t]*(?P<unit>[a-zµ]+)\Z", re.IGNORECASE)
_PERCENT_RE = re.compile(_NUM + r"[ \t]*%\Z")


def parse_duration(value: object) -> float:
    """'15ms' -> 0.015 seconds. Negative durations are rejected."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(
            f"expected a duration with a unit, like '15ms' or '1.5s' (got {value!r})")
    m = _DURATION_RE.match(value.strip())
    if not m or m["unit"].lower() not in _DURATION_UNITS:
        raise ValueError(
            f"malformed duration {value!r}: expected a number and one of the units "
            f"{', '.join(u for u in _DURATION_UNITS if u != 'µs')}, like '15ms'")
    unit = m["unit"].lower()
    seconds = (float(m["num"]) / _PER_SECOND[unit] if unit in _PER_SECOND
               else float(m["num"]) * _DURATION_UNITS[unit])
    if seconds < 0:
        raise ValueError(f"duration {value!r} is negative: it must be 0 or more")
    return seconds


def parse_bandwidth(value: object) -> float:
    """'10Mbit' -> 10.0 Mbit/s."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(
            f"expected a bandwidth with a unit, like '10Mbit' or '1Gbit' (got {value!r})")
    m = _DURATION_RE.match(value.strip())
    if not m or m["unit"].lower() not in _BANDWIDTH_UNITS:
        raise ValueError(
            f"malformed bandwidth {value!r}: expected a number and one of the units "
            "kbit, Mbit, Gbit (or kbps, Mbps, Gbps), like '10Mbit'")
    mbit = float(m["num"]) * _BANDWIDTH_UNITS[m["unit"].lower()]
    if mbit <= 0:
        raise ValueError(f"bandwidth {value!r} must be more than 0")
    return mbit


def parse_percent(value: object) -> float:
    """'1.5%' -> 0.015."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"expected a percentage like '1%' (got {value!r})")
    m = _PERCENT_RE.match(value.strip())
    if not m:
        raise ValueError(f"malformed percentage {value!r}: expected a number and '%', like '1%'")
    pct = float(m["num"])
    if not 0 <= pct <= 100:
        raise ValueError(f"percentage {value!r} must be between 0% and 100%")
    return pct / 100.0


_RATE_UNITS = {"s": 1.0, "min": 1 / 60.0, "h": 1 / 3600.0}
_RATE_RE = re.compile(_NUM + r"[ \t]*/[ \t]*(?P<unit>[a-z]+)\Z", re.IGNORECASE)


def parse_rate(value: object) -> float:
    """'20/s' -> 20.0 events per second ('/min', '/h' too). A bare number is rejected, as
    for durations: '20' could be per second or per minute."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"expected a rate with a unit, like '20/s' or '90/min' (got {value!r})")
    m = _RATE_RE.match(value.strip())
    if not m or m["unit"].lower() not in _RATE_UNITS:
        raise ValueError(f"malformed rate {value!r}: expected a number, '/' and one of the "
                         f"units {', '.join(_RATE_UNITS)}, like '20/s'")
    per_second = float(m["num"]) * _RATE_UNITS[m["unit"].lower()]
    if per_second <= 0:
        raise ValueError(f"rate {value!r} must be more than 0")
    return per_second


def at_most(limit: float, what: str, unit: str = "s"):
    """A validator: the value (seconds, or Mbit/s with unit="Mbit") is at most `limit`."""
    def check(value):
        if value is not None and value > limit:
            shown = format_duration(value) if unit == "s" else f"{value:g}{unit}"
            cap = format_duration(limit) if unit == "s" else f"{limit:g}{unit}"
            raise ValueError(f"{shown} is more than the emulation can do: {what} is at most {cap}")
        return value
    return AfterValidator(check)


def at_least(limit: float, what: str, unit: str = "s"):
    """A validator: the value is at least `limit` (0 stays allowed only if `limit` is 0)."""
    def check(value):
        if value is not None and value < limit:
            cap = format_duration(limit) if unit == "s" else f"{limit:g}{unit}"
            raise ValueError(f"{what} must be at least {cap}")
        return value
    return AfterValidator(check)


def format_duration(seconds: float) -> str:
    """0.015 -> '15ms' (the inverse of parse_duration, for reports)."""
    if seconds == 0:
        return "0ms"
    if seconds >= 1:
        return f"{seconds:g}s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:g}ms"
    return f"{seconds * 1e6:g}us"


Duration = Annotated[
    float, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d+)?\s*(ns|us|ms|s|min)$",
                    "examples": ["15ms", "1.5s"]}),
]
Bandwidth = Annotated[
    float, BeforeValidator(parse_bandwidth),
    PlainSerializer(lambda v: f"{v:g}Mbit", return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d+)?\s*([kKmMgG](bit|bps))$",
                    "examples": ["10Mbit"]}),
]
Rate = Annotated[
    float, BeforeValidator(parse_rate), PlainSerializer(lambda v: f"{v:g}/s", return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d+)?\s*/\s*(s|min|h)$",
                    "examples": ["20/s", "90/min"]}),
]
Percent = Annotated[
    float, BeforeValidator(parse_percent),
    PlainSerializer(lambda v: f"{v * 100:g}%", return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d+)?\s*%$", "examples": ["1%"]}),
]
