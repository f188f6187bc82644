"""What a search's words mean, and how well a person's names answer them. Pure functions.

`understand()` reads one line of search text into its parts: a case or referral reference, an
NHS number (with or without spaces), a date of birth in any common form (3/4/1980, 03-04-1980,
3.4.80, 3 April 1980, 3rd Apr 1980, April 3, 1980, 1980-04-03, 03041980; day first, as in the
UK), a postcode (whole, with or without its space, or the outward code alone) and the words of a
name, folded by `fold()` (no accents, case or punctuation).

`name_score()` says how well a person's names answer the name words, from 0 to 1: the average of
how well the whole name matches (the words run together, in either order, so spacing, hyphens
and swapped given and family names do not matter) and how well each word finds its best match
among the person's names (any part of a name, other names too; a word typed as the beginning of
a name counts almost as the name). Matching is difflib's, as the repeat-referral matcher's is.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from difflib import SequenceMatcher

from panel.forms.errors import ServiceError

MAX_WORDS = 6
MAX_WORD = 40

# Letters Unicode does not decompose into a base letter and an accent (casefold() makes ß "ss").
_FOLD = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i",
                       "ħ": "h", "ŧ": "t", "ŀ": "l"})
# Anything but letters and digits separates words; letters of other scripts are kept as typed.
_SEPARATORS = re.compile(r"[^a-z0-9\u0100-\u1fff\u3000-\uffff]+")
_RAW_SEPARATORS = re.compile(r"[\s\-‐‑–—'’‘`´.,;:()/\\\"“”_&+!?*^~<>=|{}\[\]#@$%]+")

_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
                "october", "november", "december")
_MONTH = (r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?")
_ORDINAL = r"(?:st|nd|rd|th)?"
_CASE_REFERENCE = re.compile(r"\bcaspa\s*[-–]?\s*(\d{4})\s*[-–]?\s*(\d{1,4})(?!\d)", re.I)
_REFERRAL_REFERENCE = re.compile(r"\br\s*[-–]\s*(\d{4})\s*[-–]\s*(\d{1,6})(?!\d)", re.I)
_NHS = re.compile(r"(?<!\d)(\d{3})[ \-]*(\d{3})[ \-]*(\d{4})(?!\d)")
# (pattern, the order of its day, month and year groups)
_DATES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?<!\d)(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})(?!\d)"), "ymd"),
    (re.compile(r"(?<!\d)(\d{1,2})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{4}|\d{2})(?!\d)"), "dmy"),
    (re.compile(rf"(?<!\d)(\d{{1,2}}){_ORDINAL}[\s\-/]*(?:of\s+)?{_MONTH}[\s\-/,]*(\d{{4}}|\d{{2}})(?!\d)",
                re.I), "dmy"),
    (re.compile(rf"\b{_MONTH}\s*(\d{{1,2}}){_ORDINAL},?\s+(\d{{4}})(?!\d)", re.I), "mdy"),
    (re.compile(r"(?<!\d)(\d{1,2})\s+(\d{1,2})\s+(\d{4})(?!\d)"), "dmy"),
    (re.compile(r"(?<!\d)(\d{2})(\d{2})(\d{4})(?!\d)"), "dmy"),
]
_POSTCODE = re.compile(r"\b([a-z]{1,2}\d[a-z\d]?)\s*(\d[a-z]{2})\b", re.I)
_OUTWARD = re.compile(r"\b([a-z]{1,2}\d[a-z\d]?)\b", re.I)


def fold(text: str) -> str:
    """Text folded for matching names: no accents, case or punctuation, single spaces."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold().translate(_FOLD)
    return " ".join(_SEPARATORS.sub(" ", text).split())


@dataclass(frozen=True)
class Understood:
    """A search's words, read: each part that was found (None or empty where not)."""

    text: str
    name_words: tuple[str, ...] = ()
    raw_name_words: tuple[str, ...] = ()  # as typed, case folded, accents kept (SQLite's trigrams)
    date_of_birth: date | None = None
    nhs_number: str | None = None
    postcode: str | None = None            # "LU1 2AB"
    outward_code: str | None = None        # "LU1", when only that was typed
    case_reference: str | None = None      # "CASPA-2027-004"
    referral_reference: str | None = None  # "R-2027-00042"

    @property
    def other_terms(self) -> bool:
        """Searched by something besides a name."""
        return bool(self.date_of_birth or self.nhs_number or self.postcode or self.outward_code
                    or self.case_reference or self.referral_reference)

    @property
    def empty(self) -> bool:
        return not (self.name_words or self.other_terms)


def _year(text: str, today: date) -> int:
    """A two-digit year is this century's if that makes the person an adult, else the last's."""
    year = int(text)
    if len(text) == 2:
        year += 2000 if 2000 + year <= today.year - 18 else 1900
    return year


def _month(text: str) -> int:
    text = text.lower().rstrip(".")
    if text.isdigit():
        return int(text)
    return next(n for n, name in enumerate(_MONTH_NAMES, start=1) if name.startswith(text[:3]))


def _find_date(text: str, today: date) -> tuple[date | None, str]:
    for pattern, order in _DATES:
        match = pattern.search(text)
        if match is None:
            continue
        parts = dict(zip(order, match.groups(), strict=True))
        try:
            found = date(_year(parts["y"], today), _month(parts["m"]), int(parts["d"]))
        except ValueError:
            raise ServiceError("Enter a real date of birth, for example 3/4/1980 or 3 April 1980",
                               field="q") from None
        return found, text[:match.start()] + " " + text[match.end():]
    return None, text


def understand(text: str, today: date) -> Understood:
    """Read the search text. Raises ServiceError (field "q") for a date of birth that is not real."""
    rest = text
    found: dict[str, object] = {}
    if match := _CASE_REFERENCE.search(rest):
        found["case_reference"] = f"CASPA-{match.group(1)}-{int(match.group(2)):03d}"
        rest = rest[:match.start()] + " " + rest[match.end():]
    if match := _REFERRAL_REFERENCE.search(rest):
        found["referral_reference"] = f"R-{match.group(1)}-{int(match.group(2)):05d}"
        rest = rest[:match.start()] + " " + rest[match.end():]
    if match := _NHS.search(rest):
        found["nhs_number"] = "".join(match.groups())
        rest = rest[:match.start()] + " " + rest[match.end():]
    found["date_of_birth"], rest = _find_date(rest, today)
    if match := _POSTCODE.search(rest):
        found["postcode"] = f"{match.group(1)} {match.group(2)}".upper()
        rest = rest[:match.start()] + " " + rest[match.end():]
    elif match := _OUTWARD.search(rest):
        found["outward_code"] = match.group(1).upper()
        rest = rest[:match.start()] + " " + rest[match.end():]
    words = [w[:MAX_WORD] for w in fold(rest).split() if not any(c.isdigit() for c in w)][:MAX_WORDS]
    raw = [w[:MAX_WORD] for w in _RAW_SEPARATORS.split(unicodedata.normalize("NFKC", rest).casefold())
           if w and not any(c.isdigit() for c in w)][:MAX_WORDS]
    return Understood(text=text, name_words=tuple(words), raw_name_words=tuple(raw), **found)  # type: ignore[arg-type]


# ---- how well a person's names answer the words ----------------------------------------------

def _similarity(typed: str, name: str) -> float:
    if typed == name:
        return 1.0
    ratio = SequenceMatcher(None, typed, name, autojunk=False).ratio()
    return max(ratio, 0.9) if name.startswith(typed) else ratio


def name_score(words: tuple[str, ...], given: str, family: str, other: str) -> float:
    """How well the person's names answer the folded name words, 0 (not at all) to 1."""
    if not words:
        return 0.0
    given_words, family_words = fold(given).split(), fold(family).split()
    others = [fold(part) for part in re.split(r"[,;/]|\bor\b|\baka\b", other or "") if fold(part)]
    every_word = given_words + family_words + [w for o in others for w in o.split()]
    if not every_word:
        return 0.0
    first, last = "".join(given_words), "".join(family_words)
    firsts = [first] + [o.replace(" ", "") for o in others]
    wholes = {last, *every_word, *firsts, *(f + last for f in firsts), *(last + f for f in firsts)} - {""}
    typed = "".join(words)
    whole = max(_similarity(typed, name) for name in wholes)
    coverage = sum(max(_similarity(word, name) for name in every_word) for word in words) / len(words)
    return round((whole + coverage) / 2, 4)


def trigrams(words: tuple[str, ...]) -> list[str]:
    """The trigrams of each word with a space either side (as the database indexes names)."""
    out: set[str] = set()
    for word in words:
        padded = f" {word} "
        out.update(padded[i:i + 3] for i in range(len(padded) - 2))
    return sorted(t for t in out if all(c.isalnum() or c == " " for c in t))
