"""The chunker: bounded chunks, overlap between neighbours, whole words, every word of the text covered."""

from __future__ import annotations

import itertools

import pytest

from neuroedge_runtime.embeddings import chunking
from neuroedge_runtime.embeddings.chunking import Chunking

TEXT = " ".join(f"word{i:03d}" for i in range(200))  # 8-character words


def test_short_text_is_one_chunk() -> None:
    assert chunking.split("  Refunds take five days.  ", Chunking(100, 10)) == ["Refunds take five days."]


def test_blank_text_has_no_chunk() -> None:
    assert chunking.split(" \n\t ", Chunking(10, 2)) == []


@pytest.mark.parametrize(("size", "overlap"), [(50, 0), (50, 20), (100, 30), (9, 0), (200, 199)])
def test_chunks_are_bounded_whole_words_and_cover_the_text(size: int, overlap: int) -> None:
    chunks = chunking.split(TEXT, Chunking(size, overlap))
    assert all(len(c) <= size for c in chunks)
    words = TEXT.split()
    assert all(w in words for c in chunks for w in c.split())  # no word cut in half
    seen = [w for c in chunks for w in c.split()]
    assert set(seen) == set(words)
    assert seen[0] == words[0] and seen[-1] == words[-1]


def test_neighbours_overlap_by_about_the_overlap() -> None:
    chunks = chunking.split(TEXT, Chunking(100, 30))
    for left, right in itertools.pairwise(chunks):
        shared = set(left.split()) & set(right.split())
        assert 2 <= len(shared) <= 4  # 30 characters hold 3 words of 9 characters (one may be cut off)


def test_no_overlap_means_each_word_once() -> None:
    chunks = chunking.split(TEXT, Chunking(64, 0))
    assert [w for c in chunks for w in c.split()] == TEXT.split()


def test_a_word_longer_than_the_size_is_cut() -> None:
    assert chunking.split("x" * 25, Chunking(10, 0)) == ["x" * 10, "x" * 10, "x" * 5]


def test_overlap_inside_one_long_word_still_progresses() -> None:
    chunks = chunking.split("y" * 30, Chunking(10, 5))
    assert chunks[0] == "y" * 10 and len(chunks) == 5


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_bad_settings_are_refused(size: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="chunk"):
        Chunking(size, overlap)
