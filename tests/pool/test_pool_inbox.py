"""The supervisor's reader: the messages a pipe holds, cut as ``Connection`` writes them."""

from __future__ import annotations

import multiprocessing
import os
import threading
from multiprocessing.connection import wait

import pytest

from futures_settle._pool.inbox import Inbox


def _read_all(inbox: Inbox, count: int) -> list[bytes]:
    got: list[bytes] = []
    while len(got) < count:
        assert wait([inbox.conn], 30), "the pipe stayed empty"
        got += inbox.read()
    return got


@pytest.mark.parametrize("sizes", [[0, 1, 5, 0], [70_000, 3, 200_000], [16_385] * 5])
def test_messages_of_every_size_come_whole_and_in_order(sizes: list[int]) -> None:
    """Small ones several to a read, large ones over several reads."""
    reader, writer = multiprocessing.Pipe()
    messages = [os.urandom(n) for n in sizes]
    sender = threading.Thread(target=lambda: [writer.send_bytes(m) for m in messages])
    sender.start()
    try:
        assert _read_all(Inbox(reader), len(messages)) == messages
    finally:
        sender.join(30)
        reader.close()
        writer.close()


def test_the_long_length_form() -> None:
    """A length of -1 and then 8 bytes (what ``Connection`` writes past 2 GiB), split anywhere."""
    reader, writer = multiprocessing.Pipe()
    raw = (-1).to_bytes(4, "big", signed=True) + (3).to_bytes(8, "big") + b"abc"
    raw += (2).to_bytes(4, "big") + b"de"
    inbox = Inbox(reader)
    got: list[bytes] = []
    try:
        for i in range(len(raw)):  # a byte at a time: every cut point
            os.write(writer.fileno(), raw[i : i + 1])
            assert wait([reader], 30)
            got += inbox.read()
        assert got == [b"abc", b"de"]
    finally:
        reader.close()
        writer.close()


def test_eof() -> None:
    """The other end closed: EOFError, after what it had sent."""
    reader, writer = multiprocessing.Pipe()
    writer.send_bytes(b"last")
    writer.close()
    inbox = Inbox(reader)
    try:
        assert _read_all(inbox, 1) == [b"last"]
        with pytest.raises(EOFError):
            inbox.read()
    finally:
        reader.close()
