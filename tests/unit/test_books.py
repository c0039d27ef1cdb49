"""core.domain.books: determinism, the prefix property, ISBN uniqueness and check digits."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.books import ISBN_BODIES, Book, generate_books, isbn_check_digit, isbn_for


def test_same_seed_same_books_different_seed_different_books() -> None:
    assert list(generate_books(50, seed=7)) == list(generate_books(50, seed=7))
    assert [b.isbn for b in generate_books(50, seed=7)] != [b.isbn for b in generate_books(50, seed=8)]


@pytest.mark.parametrize(("k", "n"), [(0, 10), (1, 10), (7, 40), (40, 40)])
def test_prefix_property(k: int, n: int) -> None:
    assert list(generate_books(n, seed=3))[:k] == list(generate_books(k, seed=3))


def test_start_offset_gives_the_same_books() -> None:
    assert list(generate_books(10, seed=1, start=25)) == list(generate_books(35, seed=1))[25:]


def test_generate_is_lazy() -> None:
    books = generate_books(ISBN_BODIES, seed=0)  # a billion books: only a lazy iterator survives this
    assert len(list(itertools.islice(books, 3))) == 3


def test_isbn_unique_over_a_million() -> None:
    isbns = {isbn_for(i, 42) for i in range(1_000_000)}
    assert len(isbns) == 1_000_000


def test_isbn_for_matches_generated_books() -> None:
    assert [b.isbn for b in generate_books(20, seed=5)] == [isbn_for(i, 5) for i in range(20)]


@pytest.mark.parametrize(("first12", "check"), [
    ("978030640615", 7),  # ISBN 978-0-306-40615-7 (the Wikipedia example)
    ("978316148410", 0),  # 978-3-16-148410-0
    ("978186197876", 9),  # 978-1-86197-876-9
])
def test_check_digit_known_values(first12: str, check: int) -> None:
    assert isbn_check_digit(first12) == check


@given(st.integers(0, ISBN_BODIES - 1), st.integers(0, 2**32))
def test_every_isbn_is_valid_isbn13(index: int, seed: int) -> None:
    isbn = isbn_for(index, seed)
    assert len(isbn) == 13 and isbn.isdigit() and isbn.startswith("978")
    assert sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(isbn)) % 10 == 0


@pytest.mark.parametrize("index", [-1, ISBN_BODIES])
def test_isbn_index_out_of_range(index: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        isbn_for(index, 0)


def test_books_look_like_books() -> None:
    for book in generate_books(200, seed=9):
        assert book.title and " " in book.author
        assert dt.date(1900, 1, 1) <= book.published <= dt.date(2022, 3, 28)


def test_item_round_trip() -> None:
    book = Book("9780306406157", "Ünïcode title", "Ann Author", dt.date(2001, 2, 3))
    assert book.to_item() == {"isbn": {"S": "9780306406157"}, "title": {"S": "Ünïcode title"},
                              "author": {"S": "Ann Author"}, "published": {"S": "2001-02-03"}}
    assert Book.from_item(book.to_item()) == book


def test_book_is_frozen() -> None:
    book = next(generate_books(1))
    with pytest.raises(AttributeError):
        book.isbn = "x"  # type: ignore[misc]
