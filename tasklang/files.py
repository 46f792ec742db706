"""Output files: hashing, atomic writes, and atomic, locked switches of finished folders."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import os
import re
import shutil
import signal
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` through a temporary file beside `path`, then rename: readers never see
    half a file, and a failed write leaves the old one. OSError propagates."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise



def check_writable(folder: Path, shown: Path | None = None) -> None:
    """Raise OutputUnwritable(shown or folder) unless entries can be made in `folder` or, where
    it does not exist yet, in its nearest existing ancestor (which must be a folder). Commands
    call it before their work, so that an unwritable -o is found in a moment, not after minutes
    of converting or generating. It makes and removes one empty folder: a read-only mount, a
    permission or a pseudo-filesystem (/proc) only shows itself when a write is tried."""
    from .exits import OutputUnwritable

    at = folder
    while not at.exists() and at != at.parent:
        at = at.parent
    try:
        if not at.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(at))
        probe = at / f".tasklang-probe-{os.getpid()}"
        probe.mkdir()
        probe.rmdir()
    except OSError as err:
        raise OutputUnwritable(shown or folder, err) from None


# ---------------------------------------------------------------- atomic, locked output folders
#
# A compile (or import) writing into OUT takes the lock OUT/.tasklang.lock, removes what
# killed runs left there, builds every dataset into OUT/.tasklang-staging-<pid>/<name>/
# and then switches each one into OUT/<name> with one renameat2(RENAME_EXCHANGE): at every
# instant OUT/<name> is the complete old build or the complete new one. Where the exchange
# is unavailable (not Linux, kernel < 3.15, a filesystem without it) the old folder is first
# renamed into the staging folder (<name>.old) and the new one renamed in: a kill between
# the two renames leaves OUT/<name> missing, and the next run restores it from <name>.old.

LOCK_NAME = ".tasklang.lock"
STAGING_PREFIX = ".tasklang-staging-"
_STAGING = re.compile(rf"^{re.escape(STAGING_PREFIX)}\d+$")
_OLD_SCHEME = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)$")  # before staging
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_reached: Counter[str] = Counter()
_held: set[int] = set()  # descriptors of the locks this process holds


def _drop_locks_in_child() -> None:
    """A forked child (a --workers process, the sandbox) closes its copies of the lock: the
    lock then lives exactly as long as the process that took it, and a killed compile's
    orphaned workers cannot keep OUT locked."""
    for fd in list(_held):
        with suppress(OSError):
            os.close(fd)
    _held.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_locks_in_child)


def pause_for_tests(point: str) -> None:
    """Test-only hook, read here and nowhere else: with TASKLANG_TEST_PAUSE_AT=POINT (or
    POINT:N, the N-th time) the process stops itself (SIGSTOP) at POINT, so that a test can
    kill -9 it exactly there. Points: locked, staged, before-exchange, after-exchange,
    fallback-aside (between the two renames of the fallback), before-cleanup."""
    wanted = os.environ.get("TASKLANG_TEST_PAUSE_AT")
    if not wanted:
        return
    name, _, nth = wanted.partition(":")
    if name != point:
        return
    _reached[point] += 1
    if _reached[point] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGSTOP)


def _renameat2() -> Any:
    """libc's renameat2, or None (not Linux, glibc < 2.28, or TASKLANG_TEST_NO_EXCHANGE=1,
    which tests use to exercise the fallback)."""
    if not sys.platform.startswith("linux") or os.environ.get("TASKLANG_TEST_NO_EXCHANGE"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


def exchange(a: Path, b: Path) -> bool:
    """Atomically swap the entries `a` and `b` (both must exist). False when this system or
    filesystem cannot (then nothing happened); other failures raise OSError."""
    fn = _renameat2()
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def remove_entry(path: Path) -> None:
    """Remove a file, a symlink or a folder tree; a missing one is fine."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def switch_into_place(new: Path, final: Path, aside: Path) -> None:
    """Make the finished `new` the entry `final`; what was there ends at `new`'s old path
    (exchanged) or at `aside` (fallback), for the caller to remove. Same filesystem."""
    if not os.path.lexists(final):
        new.rename(final)  # nothing to replace: one rename is atomic
        return
    pause_for_tests("before-exchange")
    if exchange(new, final):
        pause_for_tests("after-exchange")
        return
    final.rename(aside)
    pause_for_tests("fallback-aside")
    new.rename(final)


def swap_into_place(tmp: Path, final: Path) -> None:
    """Replace `final` by the finished `tmp` (same filesystem): readers never see a half,
    and where renameat2 exists `final` is never missing either."""
    aside = final.parent / f".{final.name}.old-{os.getpid()}"
    switch_into_place(tmp, final, aside)
    remove_entry(tmp)
    remove_entry(aside)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutputLock:
    """An exclusive fcntl lock on ROOT/.tasklang.lock, refused at once (OutputBusy) when
    another process holds it. The file holds the holder's pid and is removed on release;
    a lock file left by a killed run is free (the kernel dropped its lock) and is reused."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / LOCK_NAME
        self.fd: int | None = None

    def acquire(self) -> None:
        from .exits import OutputBusy

        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip()
                os.close(fd)
                raise OutputBusy(self.root, int(holder) if holder.isdigit() else None) from None
            except BaseException:
                os.close(fd)
                raise
            # The holder before us may have removed the file between our open and our lock:
            # then we locked a file nobody else will see, and must try again.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self.fd = fd
        _held.add(fd)

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still holding it: see acquire
        finally:
            _held.discard(self.fd)
            os.close(self.fd)
            self.fd = None


def recover(root: Path, names: list[str] | None = None) -> None:
    """Remove (or restore) what killed runs left in `root`; call with root's lock held.

    A staging folder of a dead run goes, except that an old build it holds as <name>.old
    (the fallback's first rename) goes back to root/<name> when that is missing. The
    hidden .<name>.tmp-<pid> / .<name>.old-<pid> folders of earlier versions go too, once
    their pid is dead (an .old one is restored when root/<name> is missing); only those of
    `names` when given (import writes into a folder that tasklang does not own)."""
    for entry in sorted(root.iterdir()):
        if _STAGING.match(entry.name) and entry.is_dir() and not entry.is_symlink():
            for old in sorted(entry.glob("*.old")):
                final = root / old.name[: -len(".old")]
                if not os.path.lexists(final):
                    old.rename(final)
            remove_entry(entry)
            continue
        m = _OLD_SCHEME.match(entry.name)
        if m is None or (names is not None and m["name"] not in names) \
                or _pid_alive(int(m["pid"])):
            continue
        final = root / m["name"]
        if m["kind"] == "old" and not os.path.lexists(final):
            entry.rename(final)
        else:
            remove_entry(entry)


@dataclass
class Staging:
    """Entries built under `dir` (dir/<name>) and switched into `root` by `commit`."""

    root: Path
    dir: Path

    def commit(self, names: list[str]) -> None:
        pause_for_tests("staged")
        for name in names:
            switch_into_place(self.dir / name, self.root / name, self.dir / f"{name}.old")
        pause_for_tests("before-cleanup")
        remove_entry(self.dir)  # the old builds, now inside it


@contextmanager
def staged_output(root: Path, shown: Path | None = None, names: list[str] | None = None
                  ) -> Iterator[Staging]:
    """Lock `root` (creating it), clean up after killed runs (recover(root, names)), and
    stage entries to commit.

    Every OSError about `root` or inside it, here or in the body, is OutputUnwritable(shown
    or root): one line, exit 1. On any exit the staging folder (with whatever was not committed, and
    the replaced old builds) is removed and the lock released."""
    from .exits import OutputUnwritable

    lock = OutputLock(root)
    staging = Staging(root, root / f"{STAGING_PREFIX}{os.getpid()}")
    try:
        try:
            root.mkdir(parents=True, exist_ok=True)
        except FileExistsError:  # a file, or a symlink to one: "File exists" would mislead
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(root)) from None
        lock.acquire()
        pause_for_tests("locked")
        recover(root, names)
        staging.dir.mkdir()
        yield staging
    except OSError as err:
        if err.filename is not None and not _inside(Path(os.fsdecode(err.filename)), root):
            raise  # an input, not the output
        raise OutputUnwritable(shown or root, err) from None
    finally:
        if lock.fd is not None:
            remove_entry(staging.dir)
            lock.release()


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True
