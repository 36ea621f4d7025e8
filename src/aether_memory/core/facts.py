"""What tells a correction from a re-wording (pure, no model).

Two statements close enough in meaning to be near-duplicates can still say different things:
"the meeting is at 4pm" after "the meeting is at 3pm". Embeddings barely see the difference,
so it is read from the words: the numbers, the dates, the names and the polarity of each text.
A difference in any of them makes the newer text a correction, not a repetition. Codes are
apart: "ticket SUP-4472" is not a correction of "ticket SUP-4471" but another ticket.
"""

from __future__ import annotations

import re

__all__ = ["ASPECTS", "fact_differences", "value_correction"]

ASPECTS = ("code", "number", "date", "name", "negation")

# A code starts with a letter and holds a digit (SUP-4471, v2.3, err_42); "4pm" or "100ms"
# start with the digit: they are values.
_CODE = re.compile(r"(?<![\w-])[^\W\d_][\w-]*\d[\w.-]*", re.UNICODE)
_TOKEN = re.compile(r"\d+(?:[.,:/-]\d+)*|[^\W_]+(?:['\u2019][^\W_]+)?", re.UNICODE)
_NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "  # noqa: SIM905
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy "
    "eighty ninety hundred thousand million billion half dozen".split()
)
_DATE_WORDS = frozenset(
    "january february march april june july august september october november december "  # noqa: SIM905
    "jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday "
    "friday saturday sunday today tomorrow yesterday tonight am pm noon midnight".split()
)
_NEGATIONS = frozenset(
    "not no never none nobody nothing nowhere neither nor without cannot".split()  # noqa: SIM905
)
# Nouns a bare number after which names a thing rather than measures one: "order 1235" is
# another order, not a corrected amount.
_ID_NOUNS = frozenset(
    "order ticket issue pr bug case invoice id no number ref reference account version v "  # noqa: SIM905
    "release build room flight item job run commit row page chapter step line port".split()
)
_HASH_NUMBER = re.compile(r"#\s*\d")
# Capitalised words that open sentences without naming anything.
_NOT_NAMES = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their "  # noqa: SIM905
    "then there these they this to was will with i i'm we you he she my our your his her its "
    "me us them what when where who why how yes ok also please note".split()
)


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _codes(text: str) -> set[str]:
    return {c.lower().rstrip(".-") for c in _CODE.findall(text)}


def _numbers(words: list[str]) -> set[str]:
    found = set()
    for word in words:
        low = word.lower()
        if any(ch.isdigit() for ch in low):
            found.add(low.replace(",", ""))  # 1,000 and 1000 are one number
        elif low in _NUMBER_WORDS:
            found.add(low)
    return found


def _dates(words: list[str]) -> set[str]:
    # "may" is a month only when capitalised: "you may" is not a date.
    return {w.lower() for w in words if w.lower() in _DATE_WORDS or w == "May"}


def _names(words: list[str]) -> set[str]:
    return {
        w.lower()
        for w in words
        if w[0].isupper() and w != "May" and w.lower() not in _NOT_NAMES | _DATE_WORDS
    }


def _negative(words: list[str]) -> bool:
    """The polarity of a text: an odd number of negations ("not", "never", "isn't")."""
    count = sum(
        1 for w in words if w.lower() in _NEGATIONS or w.lower().endswith(("n't", "n\u2019t"))
    )
    return count % 2 == 1


def fact_differences(old: str, new: str) -> frozenset[str]:
    """The aspects (of `ASPECTS`) in which `new` says something other than `old`.

    Empty for a re-wording of the same facts; ``code`` when they name different things
    (another ticket, another version), which is neither a repetition nor a correction. A name
    counts only where the other text does not have the word at all (so "User ..." and "... the
    user" agree); the date and time words and the numbers must match as sets; the polarity
    must match.

    Example:
        >>> sorted(fact_differences("the meeting is at 3pm", "The meeting is at 4pm"))
        ['number']
    """
    codes_a, codes_b = _codes(old), _codes(new)
    a, b = _tokens(_CODE.sub(" ", old)), _tokens(_CODE.sub(" ", new))
    found = set()
    if codes_a != codes_b:
        found.add("code")
    if _numbers(a) != _numbers(b):
        found.add("number")
    if _dates(a) != _dates(b):
        found.add("date")
    lower_a, lower_b = {w.lower() for w in a}, {w.lower() for w in b}
    if (_names(a) - lower_b) or (_names(b) - lower_a):
        found.add("name")
    if _negative(a) != _negative(b):
        found.add("negation")
    return frozenset(found)


def _is_value(word: str) -> bool:
    low = word.lower()
    return (
        any(ch.isdigit() for ch in low)
        or low in _NUMBER_WORDS
        or low in _DATE_WORDS
        or word == "May"
        or low in _NEGATIONS
        or low.endswith(("n't", "n\u2019t"))
    )


def _identifiers(words: list[str]) -> set[str]:
    """The numbers that name something: right after an identifier noun ("order 1234")."""
    return {
        w.replace(",", "")
        for before, w in zip(["", *words], words, strict=False)
        if w[0].isdigit() and before.lower() in _ID_NOUNS
    }


def value_correction(old: str, new: str) -> bool:
    """Whether `new` is `old` with only an attribute value changed: the same words once the
    values (numbers, dates and times, negations) are left out, and no changed value an
    identifier (a number after "order", "ticket", "#" or "version"; a code like SUP-4471).

    The test for candidates a little less similar than near-duplicates, where the embedding
    alone cannot tell "the meeting is at 4pm" (a correction) from "order 1235 shipped"
    (another order): a different name or any other changed word is not a correction here.

    Example:
        >>> value_correction("The meeting is at 3pm", "The meeting is at 4pm")
        True
        >>> value_correction("Order 1234 shipped", "Order 1235 shipped")
        False
    """
    differs = fact_differences(old, new)
    if not differs or "code" in differs or "name" in differs:
        return False
    if _HASH_NUMBER.search(old) or _HASH_NUMBER.search(new):
        return False  # "#12": an issue, a PR, a row: never a measured value
    a, b = _tokens(_CODE.sub(" ", old)), _tokens(_CODE.sub(" ", new))
    if [w.lower() for w in a if not _is_value(w)] != [w.lower() for w in b if not _is_value(w)]:
        return False
    return _identifiers(a) == _identifiers(b)
