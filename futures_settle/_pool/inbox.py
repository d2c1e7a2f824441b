"""Reading a worker's messages in the supervisor: as few system calls as it takes.

The supervisor thread shares the GIL with the threads that use the pool's
futures (a map building its records): each system call lets the GIL go,
and getting it back may wait for another thread's switch interval (5 ms).
``Connection.recv_bytes`` makes two reads a message (its length, then its
bytes) and ``poll()`` one more to see whether another follows: five calls
for a message, where one ``os.read`` of what the pipe holds brings every
message sent since, in the same format (``multiprocessing.connection``: a
4-byte big-endian length, or -1 and an 8-byte length, then the bytes).

Only a pipe that ``wait()`` found readable is read, once: the pipe stays
blocking (the supervisor writes to it too), and a read never waits. Where
the connection is not a plain file descriptor (Windows' named pipes),
``recv_bytes`` is used.
"""

from __future__ import annotations

import os
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["Inbox"]

_CHUNK = 1 << 16


class Inbox:
    """The bytes read from one connection and not yet cut into messages."""

    __slots__ = ("buf", "conn", "fd", "held", "need")

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.fd = conn.fileno() if type(conn) is Connection else -1
        self.buf = bytearray()
        self.need = 4  # bytes the next message needs in buf before it can be cut
        self.held: tuple[Any, ...] | None = None  # a header whose payload has not come yet

    def read(self) -> list[bytes]:
        """The messages complete after one read (the pipe is readable).

        Raises:
            EOFError: The other end closed the pipe.
            OSError: The read failed.
        """
        if self.fd < 0:
            return [self.conn.recv_bytes()]
        data = os.read(self.fd, max(_CHUNK, self.need - len(self.buf)))
        if not data:
            raise EOFError
        buf = self.buf
        buf += data
        if len(buf) < self.need:
            return []
        messages: list[bytes] = []
        pos, end = 0, len(buf)
        while end - pos >= 4:
            size = int.from_bytes(buf[pos : pos + 4], "big", signed=True)
            start = pos + 4
            if size == -1:  # over 2 GiB: an 8-byte length follows
                if end - pos < 12:
                    self.need = 12
                    break
                size = int.from_bytes(buf[pos + 4 : pos + 12], "big")
                start = pos + 12
            if end - start < size:
                self.need = start - pos + size
                break
            messages.append(bytes(buf[start : start + size]))
            pos = start + size
        else:
            self.need = 4
        if pos:
            del buf[:pos]
        return messages
