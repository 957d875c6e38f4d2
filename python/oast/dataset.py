"""
oast.dataset — a project's datasets and the files inside them.

Every file path begins with a dataset name: ``Resources/data/train.csv``,
or ``p::ds/...`` for a dataset another project shared with this one (once
accepted). Paths are percent-encoded per segment on the way out, so any
name the server accepts can be used as is.

Uploads and downloads stream: :meth:`Files.upload` sends a local file,
bytes or a file object in chunks with its Content-Length, and
:meth:`Files.download` writes the answer in chunks to a temporary file
beside the destination that is renamed into place only when every byte
arrived, so a broken download never leaves a truncated file behind.
Uploading and downloading are the data owner's rights; listing,
previewing, making directories and removing are open to members with
write access.
"""

import http.client
import io
import os
import shutil
import tempfile

from . import errors
from .client import CHUNK, quote_path


class Datasets:
    """``project.datasets``: the project's datasets and those shared with it."""

    def __init__(self, project):
        self._p = project

    def create(self, name, description=""):
        """Creates a dataset (a top-level folder with its own sharing)."""
        return self._p.request("POST", "/datasets", {"name": name, "description": description})

    def list(self):
        """[{"name", "description", ...}]: own datasets, and shared ones named
        "q::ds" with "shared_from", "permission" and "status"."""
        return self._p.request("GET", "/datasets")["items"]

    def names(self):
        """The names of :meth:`list`."""
        return [d["name"] for d in self.list()]

    def delete(self, name):
        """Deletes a dataset and its files (data owner only)."""
        self._p.request("DELETE", "/datasets/" + quote_path(name))

    def shares(self, name):
        """Who dataset ``name`` is shared with (see Project.shares)."""
        return self._p.shares(name)


def _source(src, size):
    """(file object, length, must_close) for an upload source."""
    if isinstance(src, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(src)), len(src), True
    if isinstance(src, (str, os.PathLike)):
        f = open(src, "rb")
        return f, os.fstat(f.fileno()).st_size, True
    if not hasattr(src, "read"):
        raise TypeError("upload source must be a path, bytes or a binary file object, not %s" % type(src).__name__)
    if size is not None:
        return src, int(size), False
    try:
        here = src.tell()
        end = src.seek(0, io.SEEK_END)
        src.seek(here)
        return src, end - here, False
    except (AttributeError, OSError, ValueError):
        pass
    # A stream of unknown length: spool it to disk to learn its size.
    spool = tempfile.TemporaryFile()
    shutil.copyfileobj(src, spool, CHUNK)
    length = spool.tell()
    spool.seek(0)
    return spool, length, True


class Files:
    """``project.files``: the file namespace of the project's datasets."""

    def __init__(self, project):
        self._p = project

    def _path(self, path):
        path = path.strip("/") if isinstance(path, str) else path
        if not path:
            raise ValueError("a file path must begin with a dataset name")
        return self._p.path("/files/" + quote_path(path))

    def upload(self, src, remote_path, size=None):
        """Uploads ``src`` to ``remote_path`` (data owner only) and returns
        {"path", "size"}. ``src`` is a local path, bytes, or a binary file
        object read from its current position (``size`` bytes, else to its
        end). Parent directories are created as needed; an existing file
        is replaced whole. Streams in chunks: memory use does not grow with
        the file."""
        f, length, close = _source(src, size)
        try:
            resp, conn = self._p.connection.send(
                "PUT", self._path(remote_path), f, length,
                headers={"Content-Type": "application/octet-stream"})
        finally:
            if close:
                f.close()
        return self._p.connection.finish(resp, conn)

    def download(self, remote_path, dest):
        """Downloads ``remote_path`` (data owner only) to ``dest``, a local
        path or a writable binary file object, in chunks. A local path is
        written whole or not at all. Returns the number of bytes."""
        resp, conn = self._p.connection.open_stream("GET", self._path(remote_path))
        try:
            if hasattr(dest, "write"):
                return self._copy(resp, dest)
            dest = os.fspath(dest)
            folder = os.path.dirname(os.path.abspath(dest))
            fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(dest) + ".")
            try:
                with os.fdopen(fd, "wb") as out:
                    n = self._copy(resp, out)
                os.replace(tmp, dest)
            except BaseException:
                os.unlink(tmp)
                raise
            return n
        finally:
            conn.close()

    @staticmethod
    def _copy(resp, out):
        n = 0
        while True:
            try:
                chunk = resp.read(CHUNK)
            except (http.client.HTTPException, OSError) as exc:
                raise errors.connection_failed("the download broke off after %d bytes: %r" % (n, exc)) from None
            if not chunk:
                return n
            out.write(chunk)
            n += len(chunk)

    def read(self, remote_path):
        """The whole content of a (small) file as bytes (data owner only)."""
        buf = io.BytesIO()
        self.download(remote_path, buf)
        return buf.getvalue()

    def list(self, path):
        """The entries of a directory or dataset:
        [{"name", "type": "file"|"dir", "size", "modified"}]."""
        return self._p.connection.request("GET", self._path(path), query={"op": "list"})["items"]

    def stat(self, path):
        """One entry: {"name", "type", "size", "modified"} (ISO-8601 UTC)."""
        return self._p.connection.request("GET", self._path(path), query={"op": "stat"})

    def exists(self, path):
        """True when ``path`` exists (any member may ask)."""
        try:
            self.stat(path)
            return True
        except errors.NotFound:
            return False

    def preview(self, path, mode="head", lines=10):
        """The first (mode "head") or last ("tail") ``lines`` lines of a
        text file (at most 1000), as a str; any member may preview."""
        raw = self._p.connection.request("GET", self._path(path),
                                         query={"op": "preview", "mode": mode, "lines": lines})
        if raw is None:
            return ""
        if isinstance(raw, (bytes, bytearray)):
            return raw.decode("utf-8", "replace")
        return raw if isinstance(raw, str) else str(raw)

    def mkdir(self, path):
        """Creates a directory; returns {"path"}."""
        return self._p.connection.request("POST", self._path(path), query={"op": "mkdir"})

    def remove(self, path):
        """Removes a file, or a directory with everything in it."""
        self._p.connection.request("DELETE", self._path(path))
