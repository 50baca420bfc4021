"""Convert a file while it downloads: readers that follow the bytes the downloader has stored.

The downloader tells a `FollowedFile` each time it stored more bytes, when it went back to byte 0
(a server that ignores ranges, an encoded body that broke) and when it ended. A reader of the file
blocks until bytes beyond its position are stored, reads only those, and sees the end of the file
only once the download is complete. A restart voids everything read before it
(`DownloadRestarted`: the caller converts again, from the complete file); a download that failed or
stopped ends every reader with `DownloadAbandoned`. The bytes a reader gets are exactly the bytes of
the finished file: the downloader only ever appends, except for a restart, which the reader sees.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Optional


class DownloadRestarted(Exception):
    """The download started again from byte 0: what was read of it is void."""


class DownloadAbandoned(Exception):
    """The download failed or was stopped: the file will not be complete."""


class FollowedFile:
    """A file being downloaded, as its downloader reports it (the `StoreObserver` of `FileDownloader.fetch`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._changed = threading.Condition()
        self._stored = 0
        self._generation = 0  # counts restarts
        self._complete: Optional[bool] = None  # set when the download ended: complete or not

    # -- the downloader's side ---------------------------------------------------------------

    def stored(self, received: int) -> None:
        """`received` bytes are in the file (written and flushed)."""
        with self._changed:
            self._stored = received
            self._changed.notify_all()

    def restarted(self) -> None:
        """Called before the file is truncated to start again from byte 0."""
        with self._changed:
            self._generation += 1
            self._stored = 0
            self._changed.notify_all()

    def ended(self, complete: bool) -> None:
        """The download is over; `complete`: the file is whole (and closed)."""
        with self._changed:
            if self._complete is None:
                self._complete = complete
            self._changed.notify_all()

    @property
    def ever_restarted(self) -> bool:
        """Whether the download went back to byte 0 at some point: anything read may mix two bodies."""
        with self._changed:
            return self._generation > 0

    # -- the readers' side -------------------------------------------------------------------

    def open(self) -> io.BufferedReader:
        """A reader from byte 0 (a new one each time)."""
        return _FollowingReader(_Follower(self), buffer_size=1 << 20)

    def _cancel(self, reader: _Follower) -> None:
        with self._changed:
            reader.cancelled = True
            self._changed.notify_all()

    def _wait_beyond(self, position: int, generation: int, reader: _Follower) -> int:
        """The bytes stored once more than `position` are, or the download ended; raises when the
        download restarted since `generation` or was abandoned, or the reader was closed."""
        with self._changed:
            while True:
                if reader.cancelled:
                    raise DownloadAbandoned(f"{self.path.name}: the reader was closed")
                if self._generation != generation:
                    raise DownloadRestarted(f"{self.path.name}: the download started again from byte 0")
                if self._complete is False:
                    raise DownloadAbandoned(f"{self.path.name}: the download did not complete")
                if self._stored > position or self._complete:
                    return self._stored
                self._changed.wait()

    def _check(self, generation: int) -> None:
        with self._changed:
            if self._generation != generation:
                raise DownloadRestarted(f"{self.path.name}: the download started again from byte 0")


class _Follower(io.RawIOBase):
    """Reads `followed.path` up to what was stored, waiting for more until the download completes."""

    def __init__(self, followed: FollowedFile) -> None:
        super().__init__()
        self._followed = followed
        with followed._changed:
            self._generation = followed._generation
        self._position = 0
        self._handle: Optional[io.FileIO] = None
        self.cancelled = False  # set (under the FollowedFile's lock) when the reader is being closed

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if not len(buffer):
            return 0
        stored = self._followed._wait_beyond(self._position, self._generation, self)
        if stored <= self._position:
            return 0  # complete, and all of it read
        if self._handle is None:
            self._handle = io.FileIO(self._followed.path, "rb")
        view = memoryview(buffer)[: stored - self._position]
        count = self._handle.readinto(view) or 0
        self._followed._check(self._generation)  # a restart during the read voids what it read
        if count == 0:  # fewer bytes on disk than stored: never taken for the end of the file
            raise DownloadRestarted(f"{self._followed.path.name}: shorter than the bytes stored")
        self._position += count
        return count

    def cancel(self) -> None:
        """Wake a read waiting for bytes (pyarrow's read-ahead thread) with DownloadAbandoned: the
        reader is being closed."""
        self._followed._cancel(self)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
        super().close()


class _FollowingReader(io.BufferedReader):
    """The buffered reader of a `_Follower`; closing it first wakes a read still waiting for bytes
    (a conversion that stopped early must not wait for the download to end)."""

    def close(self) -> None:
        raw = self.raw
        if isinstance(raw, _Follower):
            raw.cancel()
        super().close()
