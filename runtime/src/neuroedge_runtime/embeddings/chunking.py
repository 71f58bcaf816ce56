"""Split a document into overlapping chunks before it is embedded (pure).

Sizes are in characters: they bound what one embedding summarises regardless of the model's tokenizer. A
chunk ends at the last whitespace inside its window when there is one (words are not cut in half) and the next
chunk starts `overlap` characters before that end, moved forward to the start of a word, so a sentence that
straddles a boundary is seen whole by at least one chunk when the overlap is longer than it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chunking:
    """Chunk size and the overlap between consecutive chunks, in characters."""

    size: int = 1000
    overlap: int = 200

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError("chunk size must be at least 1")
        if not 0 <= self.overlap < self.size:
            raise ValueError("chunk overlap must be at least 0 and smaller than the size")


def _end(text: str, start: int, size: int) -> int:
    limit = start + size
    if limit >= len(text):
        return len(text)
    if text[limit].isspace():
        return limit
    cut = max(text.rfind(" ", start + 1, limit), text.rfind("\n", start + 1, limit))
    return cut if cut > start else limit


def _next_start(text: str, end: int, overlap: int, previous: int) -> int:
    start = max(end - overlap, previous + 1)
    if overlap and start < end and not text[start - 1].isspace():
        word = start
        while word < end and not text[word].isspace():
            word += 1
        start = word if word < end else start
    while start < len(text) and text[start].isspace():
        start += 1
    return start


def split(text: str, chunking: Chunking) -> list[str]:
    """The chunks of `text`, in order, stripped; a text with no visible character has none."""
    chunks: list[str] = []
    start = 0
    while start < len(text) and text[start].isspace():
        start += 1
    while start < len(text):
        end = _end(text, start, chunking.size)
        piece = text[start:end].strip()
        if piece:
            chunks.append(piece)
        if end >= len(text):
            break
        start = _next_start(text, end, chunking.overlap, start)
    return chunks
