"""Seeded fake books, the lab's one data set.

Pure and deterministic: book ``i`` of a seed is the same whatever ``count`` is, so a run can be verified later by
regenerating its books. ISBN-13s are unique for the first 10**9 books of a seed.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

ISBN_BODIES = 10**9  # 978 + 9 digits + check digit
_FIRST_DATE = dt.date(1900, 1, 1).toordinal()
_LAST_DATE = dt.date(2022, 3, 28).toordinal()  # the study's publication date: no book from the future


@dataclass(frozen=True, slots=True)
class Book:
    """One book; ``isbn`` is the partition key."""

    isbn: str
    title: str
    author: str
    published: dt.date
    size: int = field(init=False, repr=False, compare=False)  # DynamoDB's bytes: names (24), date (10), text

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", 34 + _utf8_len(self.isbn) + _utf8_len(self.title) + _utf8_len(self.author))

    def to_item(self) -> dict[str, dict[str, str]]:
        """The DynamoDB attribute-value map of this book."""
        return {
            "isbn": {"S": self.isbn},
            "title": {"S": self.title},
            "author": {"S": self.author},
            "published": {"S": self.published.isoformat()},
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Book:
        """The inverse of :meth:`to_item` (raises ``KeyError``/``ValueError`` on a malformed item)."""
        return cls(
            isbn=item["isbn"]["S"],
            title=item["title"]["S"],
            author=item["author"]["S"],
            published=dt.date.fromisoformat(item["published"]["S"]),
        )


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


def isbn_check_digit(first12: str) -> int:
    """The ISBN-13 check digit for 12 leading digits (weights 1, 3, 1, 3, ...)."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return (10 - total % 10) % 10


@functools.lru_cache(maxsize=64)
def _permutation(seed: int) -> tuple[int, int]:
    """Seeded affine permutation ``i -> (a*i + b) mod 10**9``, ``a`` coprime with 10**9 (odd, not a multiple of 5)."""
    rng = random.Random(f"isbn:{seed}")
    a = rng.randrange(1, ISBN_BODIES)
    while a % 2 == 0 or a % 5 == 0:
        a = rng.randrange(1, ISBN_BODIES)
    return a, rng.randrange(ISBN_BODIES)


def isbn_for(index: int, seed: int) -> str:
    """The ISBN-13 of book ``index`` of ``seed``: distinct for distinct indexes below 10**9."""
    if not 0 <= index < ISBN_BODIES:
        raise ValueError(f"book index {index} is outside 0..{ISBN_BODIES - 1}")
    a, b = _permutation(seed)
    first12 = f"978{(a * index + b) % ISBN_BODIES:09d}"
    return first12 + str(isbn_check_digit(first12))


class _Factory:
    """Builds book ``i`` of one seed; holds the seeded permutation and a Faker instance reseeded per book."""

    def __init__(self, seed: int) -> None:
        from faker import Faker  # here, not at the top: importing the vocabulary (ISBN_BODIES, Book) stays cheap
        from faker.providers.person.en_US import Provider as PersonProvider

        self.seed = seed
        self.a, self.b = _permutation(seed)
        self.faker = Faker("en_US")
        self.faker.seed_instance(seed)  # gives the instance its own Random, apart from the global one
        self.rng = self.faker.random
        # Faker's weighted name lists, drawn with cumulative weights: the same names as faker.name(), 20x cheaper.
        self.first_names = list(PersonProvider.first_names)
        self.first_cum = list(itertools.accumulate(PersonProvider.first_names.values()))
        self.last_names = list(PersonProvider.last_names)
        self.last_cum = list(itertools.accumulate(PersonProvider.last_names.values()))

    def book(self, index: int) -> Book:
        first12 = f"978{(self.a * index + self.b) % ISBN_BODIES:09d}"
        self.faker.seed_instance((self.seed << 40) ^ index)
        rng = self.rng
        first = rng.choices(self.first_names, cum_weights=self.first_cum)[0]
        last = rng.choices(self.last_names, cum_weights=self.last_cum)[0]
        return Book(
            isbn=first12 + str(isbn_check_digit(first12)),
            title=self.faker.catch_phrase(),
            author=f"{first} {last}",
            published=dt.date.fromordinal(rng.randint(_FIRST_DATE, _LAST_DATE)),
        )


def generate_books(count: int, seed: int = 0, start: int = 0) -> Iterator[Book]:
    """Yield books ``start .. start+count-1`` of ``seed`` lazily (constant memory)."""
    if count < 0 or start < 0 or start + count > ISBN_BODIES:
        raise ValueError(f"books {start}..{start + count} are outside 0..{ISBN_BODIES}")
    factory = _Factory(seed)
    for index in range(start, start + count):
        yield factory.book(index)
