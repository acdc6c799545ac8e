"""Which paths Fleetcast opens as a database, how it connects, and what SQLite's errors mean.

Rules (why): a path that existed before the call is never unlinked or rewritten unless it is a
Fleetcast database we were asked to open; only a regular file (or a missing path in an existing
writable folder) is opened, because SQLite happily "opens" a device or a pipe and the cleanup of a
failed create would then delete it. Read-only opens leave no -wal/-shm files behind: a read-only
connection can't remove them, and side files left with the database's read-only permissions make
every later writer fail.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import shutil
import sqlite3
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, NoReturn

from engine import csv_io
from engine.errors import UserError
from engine.store.errors import StoreError

SQLITE_HEADER = b"SQLite format 3\x00"
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")
APP_NAME = "fleetcast"
ENV_DB = "FLEETCAST_DB"

# How long a statement waits for another program's transaction before the store says the file is
# in use (seconds). Long enough for another Fleetcast's import to finish; tests shorten it.
BUSY_TIMEOUT_S = 5.0

# SQLite primary result codes (sqlite3.h); Python exposes the extended code on the exception.
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 3, 5, 6, 8
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 10, 11, 13, 14, 26
_SQLITE_CONSTRAINT = 19
_SQLITE_READONLY_ROLLBACK = _SQLITE_READONLY | (3 << 8)   # a hot -journal a read-only open can't roll back

# `fleetcast restore` moves the file and its -wal/-shm aside before putting the backup in place:
# a backup copied over the file by hand took the old -wal, which SQLite replayed into it.
RESTORE_COMMAND = "`fleetcast restore BACKUP.db --force`"
DAMAGED_HINT = f"it was left unchanged. Restore a backup with {RESTORE_COMMAND} or open another file"


def side_file(path: Path, suffix: str) -> Path:
    return Path(os.fspath(path) + suffix)


def default_db_path() -> Path:
    """$FLEETCAST_DB, else the platform's user data folder. An empty $FLEETCAST_DB is an error:
    falling back to the real database would send a script's edits to the wrong file."""
    env = os.environ.get(ENV_DB)
    if env is not None:
        if not env.strip():
            raise StoreError(f"{ENV_DB} is set but empty; unset it to use the default database, "
                             "or set it to a database file path")
        return db_file_path(env, ENV_DB)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "fleetcast.db"


def expand_user(text: str) -> Path:
    """`text` as a path with a leading ~ or ~name expanded; a UserError naming the path when that
    user does not exist (Path.expanduser raised RuntimeError: a traceback)."""
    try:
        return Path(text).expanduser()
    except RuntimeError:
        head = text.split("/", 1)[0]
        who = head[1:]
        raise UserError(f"{text}: no user {who!r}" if who else f"{text}: no home folder is known") from None


def db_file_path(text: str, what: str = "--db") -> Path:
    """A database path as typed: ~ expanded; a name ending in a slash names a folder, and SQLite
    would create a file under the folder's name (`--db new/` made a file 'new')."""
    if text.endswith(("/", os.sep)):
        raise StoreError(f"{text}: not a file name (it ends with {text[-1]}; {what} names a database file)")
    return expand_user(text)


def resolve_db_path(path) -> tuple[Path, bool]:
    """(the path to open, whether it is the default location). An empty path is an error."""
    if path is None:
        return default_db_path(), os.environ.get(ENV_DB) is None
    text = os.fsdecode(path) if isinstance(path, bytes) else os.fspath(path)
    if not text.strip():
        raise StoreError("--db: the path is empty; give a database file (leave --db out to use "
                         f"${ENV_DB} or the default database)")
    return db_file_path(text), False


_KINDS = (
    (stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


@dataclass(frozen=True)
class Target:
    """What is at the database path before Fleetcast touches it."""

    path: Path
    existed: bool                 # a regular file was there (perhaps empty)
    size: int                     # its size in bytes (0 when missing)
    side_files: frozenset[str]    # the -wal/-shm/-journal suffixes present before the call
    header: bytes                 # the first 100 bytes (SQLite's database header), b"" when empty


def examine(path: Path, *, create_folder: bool) -> Target:
    """Check what the path is without opening anything but a regular file; refuse the rest."""
    try:
        info = os.stat(path)  # follows a link: the target is what SQLite would open
    except FileNotFoundError:
        # a link whose target is missing; not a file another process made since the stat (that
        # is a file: readlink would fail on it, and it is no mistake of the user's)
        if os.path.islink(path) and not os.path.exists(path):
            raise StoreError(f"{path}: a link to {os.readlink(path)}, which does not exist; give the "
                             "database file itself with --db") from None
        info = None
    except NotADirectoryError:
        raise StoreError(f"{path}: a part of this path is a file, not a folder") from None
    except OSError as exc:
        raise StoreError(f"{path}: can't be examined ({exc.strerror or exc})") from None
    link = " (through a link)" if os.path.islink(path) else ""
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise StoreError(f"{path}: is {_kind(info.st_mode)}{link}, not a database file; it was left "
                         "unchanged. Give a database file path with --db")
    present = set()
    for suffix in SIDE_SUFFIXES:
        side = side_file(path, suffix)
        try:
            side_info = os.stat(side)
        except FileNotFoundError:
            # (islink, not lexists: another process opening the same database may create its -wal
            # between the stat and this check; three processes at once read that as a broken link)
            if os.path.islink(side) and not os.path.exists(side):
                raise StoreError(f"{side}: a broken link next to the database; remove it and try again") from None
            continue
        except OSError as exc:
            raise StoreError(f"{side}: can't be examined ({exc.strerror or exc})") from None
        if not stat.S_ISREG(side_info.st_mode):
            raise StoreError(f"{side}: is {_kind(side_info.st_mode)}, where SQLite keeps the database's "
                             f"{suffix[1:]} file; it was left unchanged. Remove it or use another path")
        present.add(suffix)
    if info is None:
        _check_folder(path, create=create_folder)
        return Target(path, False, 0, frozenset(present), b"")
    header = b""
    held = _OPEN_HERE.get((info.st_dev, info.st_ino))
    if held is not None:   # open in this process already: never open it again (see _OPEN_HERE)
        return Target(path, True, info.st_size, frozenset(present), held[1])
    if info.st_size:
        try:
            with open(path, "rb") as handle:
                header = handle.read(100)
        except OSError as exc:
            raise StoreError(f"{path}: can't be read ({exc.strerror or exc}); check its permissions") from None
    return Target(path, True, info.st_size, frozenset(present), header)


# SQLite locks a database with POSIX advisory locks, and POSIX drops every lock a process holds on
# a file as soon as the process closes any descriptor of that file. Reading the header of a
# database this process already has open (a second window on the same file, File > Open of the
# open file) unlocked it: another program then deleted its WAL under us and its writes were lost.
# A file open here is not opened again; its header is the one read when it was first opened.
_OPEN_HERE: dict[tuple[int, int], list] = {}   # (st_dev, st_ino) -> [stores open on it, header]


def note_open(path: Path, header: bytes) -> tuple[int, int] | None:
    """Count a store opened on `path` in this process; the key to give note_closed."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    key = (info.st_dev, info.st_ino)
    # the real path: SQLite's -wal and -shm sit beside the file a link points to, not the link
    entry = _OPEN_HERE.setdefault(key, [0, header, Path(os.path.realpath(path)), Path(os.path.abspath(path))])
    entry[0] += 1
    return key


def _refuse_open_database(target: Path) -> str | None:
    """Why an export may not write `target`: it is a database open here, or that database's
    -wal/-shm/-journal file (by any name or link that reaches it)."""
    try:
        info = os.stat(target)
        if (info.st_dev, info.st_ino) in _OPEN_HERE:
            return "is the open database itself; give another file name"
    except OSError:
        pass
    where = Path(os.path.realpath(target))
    for entry in list(_OPEN_HERE.values()):
        for db_path, suffix in ((p, x) for p in entry[2:] for x in SIDE_SUFFIXES):   # real path and as given
            side = side_file(db_path, suffix)
            try:
                same = where == side or (target.exists() and side.exists() and os.path.samefile(target, side))
            except OSError:
                same = False
            if same:
                return f"is the open database's {suffix[1:].upper()} file; give another file name"
    return None


csv_io.WRITE_GUARDS.append(_refuse_open_database)


def note_closed(key: tuple[int, int] | None) -> None:
    if key is None or key not in _OPEN_HERE:
        return
    entry = _OPEN_HERE[key]
    entry[0] -= 1
    if entry[0] <= 0:
        del _OPEN_HERE[key]


def _check_folder(path: Path, *, create: bool) -> None:
    folder = path.parent
    if create:  # the default location: its data folder may not exist yet
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{folder}: can't create the data folder ({exc.strerror or exc})") from None
    if not folder.is_dir():
        raise StoreError(f"{path}: the folder {folder} does not exist; create it first or give another path")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreError(f"{path}: the folder {folder} is not writable, so a new database can't be made there")


def is_wal(header: bytes) -> bool:
    # Bytes 18 and 19 of the header are the write/read format versions: 2 means WAL.
    return len(header) >= 20 and header[18] == 2 and header[19] == 2


def read_only_reason(target: Target) -> str | None:
    """Why a writing connection can't work (the file, its folder or a side file), or None."""
    path = target.path
    if not os.access(path, os.W_OK):
        return "the file is read-only"
    if not os.access(path.parent, os.W_OK | os.X_OK):
        return "its folder is read-only"
    locked = [side_file(path, s).name for s in sorted(target.side_files) if not os.access(side_file(path, s), os.W_OK)]
    if locked:
        # Left by a read-only open of an older Fleetcast or another tool; chmod is safe, deleting
        # a -wal that holds changes is not.
        return f"{' and '.join(locked)} next to it {'is' if len(locked) == 1 else 'are'} read-only (make {'it' if len(locked) == 1 else 'them'} writable to edit)"
    return None


def connect(target: Target, *, read_only: bool, busy_timeout_s: float | None = None) -> tuple[sqlite3.Connection, str]:
    """A connection through a URI built from the path (never pasted: '#', '?', '%' are escaped).

    Returns the connection and a note for the user ("" when none). Read-only: `mode=ro` when the
    database uses a rollback journal or its -wal and -shm both exist (another program has it
    open); `immutable=1` for a WAL database without them, because `mode=ro` would have to create
    -shm and -wal (which a read-only folder forbids and a read-only file would leave behind).
    Immutable means changes made by another program while this one is open are not seen.
    """
    timeout = BUSY_TIMEOUT_S if busy_timeout_s is None else busy_timeout_s
    uri = target.path.absolute().as_uri()
    note = ""
    if not read_only:
        uri += "?mode=rw" if target.existed else "?mode=rwc"
    elif not is_wal(target.header) or {"-wal", "-shm"} <= target.side_files:
        uri += "?mode=ro"  # a rollback journal, or a WAL database another program has open
    else:
        wal = side_file(target.path, "-wal")
        if "-wal" in target.side_files and wal.stat().st_size > 0:
            # (there are two files here: a -shm beside them takes the mode=ro branch above)
            raise StoreError(f"{target.path}: has changes not yet written into it (in {wal.name}) and can't "
                             "apply them read-only; open it once where it and its folder are writable, "
                             f"or copy it and {wal.name} together somewhere writable")
        uri += "?immutable=1"
        note = "changes made by other programs while it is open are not shown"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=timeout)
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        raise explain(target.path, exc, opening=True) from None
    return conn, note


def error_kind(exc: BaseException) -> str:
    """'busy', 'read-only', 'full', 'cantopen', 'io', 'encoding', 'conflict' or 'damaged'."""
    text = str(exc)
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if "Could not decode to UTF-8" in text or isinstance(exc, UnicodeDecodeError):
        return "encoding"
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED) or "database is locked" in text:
        return "busy"
    if primary == _SQLITE_READONLY or "readonly database" in text:
        return "read-only"
    if primary == _SQLITE_FULL:
        return "full"
    if primary in (_SQLITE_CANTOPEN, _SQLITE_PERM):
        return "cantopen"
    if primary == _SQLITE_IOERR:
        return "io"
    if primary == _SQLITE_CONSTRAINT or isinstance(exc, sqlite3.IntegrityError):
        return "conflict"   # a key or reference that rows written since no longer allow: not damage
    return "damaged"


# Less free space than this beside the database, an I/O error is taken for a full disk: SQLite reports
# a -shm file it cannot size as an I/O error (SQLITE_IOERR_SHMSIZE), not SQLITE_FULL
NEARLY_FULL_BYTES = 1 << 20


def disk_nearly_full(path: Path) -> bool:
    """The file system holding `path` (its folder) has under NEARLY_FULL_BYTES free to this user."""
    try:
        st = os.statvfs(Path(path).resolve().parent)   # beside the file a link points to: SQLite's -shm
    except (OSError, AttributeError):   # (no statvfs on Windows: the I/O error is said as such)
        return False
    return st.f_bavail * st.f_frsize < NEARLY_FULL_BYTES


def explain(path: Path, exc: BaseException, *, opening: bool = False, timeout_s: float | None = None,
            reading: str = "") -> StoreError:
    """One line for an SQLite error, by kind; never 'damaged' for a lock or a permission.
    `reading`: what a read-only operation was doing ("exporting"), for an I/O error or a full disk."""
    kind = error_kind(exc)
    if kind == "io" and disk_nearly_full(path):
        # a full disk, not a failing one: "restore a backup" would have replaced a healthy file with
        # an older copy, losing the latest work (QA s36: every command, backup included, said so)
        kind = "full"
    if reading and kind in ("io", "full"):
        # a read writes only SQLite's temporary sort files (and the export): "restore a backup"
        # of a healthy database was wrong advice when the temporary folder filled up
        return StoreError(f"{path}: reading it failed while {reading} ({exc}); the database is unchanged. "
                          "The disk or temporary folder may be full: free space (or set SQLITE_TMPDIR) and retry")
    # a new file that could not be made is not "left unchanged": there is none
    done = ("it was left unchanged" if Path(path).exists() else "no database was created") if opening \
        else "nothing was changed"
    if kind == "busy":
        wait = BUSY_TIMEOUT_S if timeout_s is None else timeout_s
        return StoreError(f"{path}: in use: locked by another program (another Fleetcast?) for more than "
                          f"{wait:g} s; {done}. Close the other program and try again, or open a copy")
    if kind == "read-only" and getattr(exc, "sqlite_errorcode", None) == _SQLITE_READONLY_ROLLBACK:
        journal = side_file(Path(path), "-journal").name
        return StoreError(f"{path}: {journal} beside it holds a transaction that was interrupted while writing "
                          "the file, which must be rolled back before it can be read, and a read-only open "
                          f"can't; {done}. Open it once where it, {journal} and its folder are writable "
                          f"(that rolls it back), or copy it and {journal} together somewhere writable")
    if kind == "read-only":
        return StoreError(f"{path}: can't be written (the file, its folder or its -wal/-shm files are "
                          f"read-only); {done}. Check the permissions, or copy it somewhere writable")
    if kind == "full":
        return StoreError(f"{path}: the disk is full; {done}. Free some space and try again (even reading "
                          "it, or backing it up elsewhere, needs a few KiB beside it for SQLite's -shm file)")
    if kind == "cantopen":
        return StoreError(f"{path}: can't be opened ({exc}); check that it and its folder are readable")
    if kind == "conflict":
        return StoreError(f"{path}: the change clashes with rows written since, by another window or "
                          f"program ({_short(exc)}); {done}. Reload and try again")
    if kind == "io":
        return StoreError(f"{path}: reading or writing it failed ({exc}); {done}. Check the disk, "
                          f"or restore a backup with {RESTORE_COMMAND}")
    return StoreError(f"{path}: the database is damaged ({_short(exc)}); {DAMAGED_HINT}")


def _short(exc: BaseException, limit: int = 120) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def remove_created(target: Target) -> None:
    """Undo a failed create: remove the files this call made, and empty a file that was empty."""
    path = target.path
    for suffix in SIDE_SUFFIXES:
        if suffix not in target.side_files:
            try:
                side_file(path, suffix).unlink()
            except FileNotFoundError:
                pass
    if not target.existed:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
    elif target.size == 0:
        try:
            if path.stat().st_size:
                os.truncate(path, 0)
        except OSError:
            pass


# ---- a -wal left beside the file -------------------------------------------------------------
# SQLite replays the -wal into the file at the next writable open, and the last connection to
# close copies it in (a checkpoint) and deletes it. A -wal does not say which file it was written
# against: after a backup was copied over a file a killed session had left one beside, the open
# replayed the other database's pages into the copy and the close wrote them in for good (200,704
# bytes became 110,592, malformed), or quietly redid the killed session's last changes. So a file
# with such a -wal is judged through a connection that can change none of the three files, and a
# connection that found damage is closed without its checkpoint.

def pending_wal(target: Target) -> Path | None:
    """The -wal beside the file when it holds frames SQLite would replay (a session killed
    before it closed, another program's session, or another database's), else None."""
    if "-wal" not in target.side_files:
        return None
    wal = side_file(target.path, "-wal")
    try:
        return wal if wal.stat().st_size > 0 else None
    except OSError:
        return None


def _ro_uri(path: Path, *, shm_read_only: bool) -> str:
    # readonly_shm: SQLite reads the -shm (or, when it can't trust it, the -wal itself into
    # memory) and writes nothing; a plain read-only connection still rewrites the -shm's index
    return path.absolute().as_uri() + ("?mode=ro&readonly_shm=1" if shm_read_only else "?mode=ro")


@contextlib.contextmanager
def probe_connection(target: Target, busy_timeout_s: float | None = None) -> Iterator[sqlite3.Connection]:
    """A connection that sees the file as a writable open would, its -wal replayed, and that
    changes none of the file, its -wal or its -shm: read-only with the -shm read-only; without a
    -shm (a -wal copied on its own), on copies of the two in a temporary folder, since a read-only
    connection would make one. Read-only connections never checkpoint."""
    timeout = BUSY_TIMEOUT_S if busy_timeout_s is None else busy_timeout_s
    folder = None
    try:
        if "-shm" in target.side_files:
            uri = _ro_uri(target.path, shm_read_only=True)
        else:
            try:
                folder = Path(tempfile.mkdtemp(prefix="fleetcast-probe-"))
                copy = folder / "probe.db"
                shutil.copyfile(target.path, copy)
                shutil.copyfile(side_file(target.path, "-wal"), side_file(copy, "-wal"))
                uri = copy.absolute().as_uri() + "?mode=rw"
            except OSError:   # no room for copies: the -shm a read-only look makes is all it adds
                uri = _ro_uri(target.path, shm_read_only=False)
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=timeout)
        except sqlite3.Error as exc:
            raise explain(target.path, exc, opening=True) from None
        try:
            yield conn
        finally:
            conn.close()
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def with_wal_note(error: StoreError, wal: Path) -> StoreError:
    """A damage message that also says what the -wal beside the file may be."""
    text = str(error)
    if DAMAGED_HINT not in text:
        return error
    note = (f"it was left unchanged, and so was {wal.name} beside it (changes SQLite would replay into it: "
            "if a backup was copied over the file by hand, they are the replaced database's). Restore the "
            f"backup with {RESTORE_COMMAND}, which moves both aside, or open another file")
    return StoreError(text.replace(DAMAGED_HINT, note))


def close_keeping_wal(conn: sqlite3.Connection, path: Path) -> None:
    """Close a writable connection without its checkpoint: the last connection to close copies
    the -wal into the file and deletes it, and only when nobody else holds the file (SQLite's
    EXCLUSIVE lock). A read-only connection opened first and closed last holds it meanwhile, and
    a read-only connection never checkpoints. (Python 3.11 has no sqlite3 setconfig for
    SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE.) With an empty -wal there is nothing to write in: closed as
    usual, which deletes the -wal and -shm this connection made."""
    try:
        empty = side_file(path, "-wal").stat().st_size == 0
    except OSError:
        empty = True
    if empty:
        conn.close()
        return
    guard = None
    try:
        guard = sqlite3.connect(_ro_uri(path, shm_read_only=True), uri=True, timeout=0)
        # SQLite takes its SHARED lock before reading a page, and keeps it in WAL mode
        guard.execute("PRAGMA schema_version").fetchone()
    except sqlite3.Error:
        pass   # (a damaged page 1 fails the read, with the lock taken)
    try:
        conn.close()
    except sqlite3.Error:
        pass
    if guard is not None:
        with contextlib.suppress(sqlite3.Error):
            guard.close()


# ---- holding a database against other programs (`restore`) ----------------------------------
# SQLite's locks (os_unix.c): in the database file, the pending byte, the reserved byte and 510
# shared bytes from 1 GiB; a connection in WAL mode keeps a read lock in the shared range from its
# first read until it closes, and a read lock on byte 128 of the -shm (its "dead man switch").
_PENDING_BYTE = 0x40000000
_LOCK_BYTES = 512
_SHM_DMS_BYTE = 128


@contextlib.contextmanager
def held_against_others(path: Path, shown: Path | None = None) -> Iterator[None]:
    """Hold SQLite's lock bytes of the database at `path` (and its -shm) as a writer that locked
    everyone out, for a swap of the files; StoreError "in use" when another program has it open.
    Never for a file this process has open through SQLite: closing these descriptors would drop
    that connection's locks (see _OPEN_HERE). `shown`: the path as the user gave it."""
    try:
        import fcntl
    except ImportError:   # (no POSIX locks: Windows refuses to replace an open file itself)
        yield
        return
    handles: list[int] = []

    def lock(name: Path, length: int, start: int) -> None:
        try:
            fd = os.open(name, os.O_RDWR)
            exclusive = True
        except PermissionError:   # a read-only file: another program's writes are still seen
            fd = os.open(name, os.O_RDONLY)
            exclusive = False
        except FileNotFoundError:
            return
        handles.append(fd)
        try:
            fcntl.lockf(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB, length, start)
        except OSError:
            raise StoreError(f"{shown or path}: in use by another program (another Fleetcast?); close it and try "
                             "again; nothing was changed") from None

    try:
        lock(path, _LOCK_BYTES, _PENDING_BYTE)
        lock(side_file(path, "-shm"), 1, _SHM_DMS_BYTE)
        yield
    finally:
        for fd in handles:
            os.close(fd)   # (releases the locks)


def is_open_here(path: Path) -> bool:
    """Whether this process has the database at `path` open (a window on it)."""
    try:
        info = os.stat(path)
    except OSError:
        return False
    return (info.st_dev, info.st_ino) in _OPEN_HERE


# ---- side files `restore` moved aside with their file ----------------------------------------
# Neither a -wal nor a -journal says which file it was written against: a -wal's header holds the
# page size, a checkpoint sequence and two salts, and a -journal's a nonce; none of them is in the
# database file (its header's change counter is the same for a copy of it, and in WAL mode it
# need not move at all), and another database's -wal, from a copy of the same file, checks out
# against it. What does tie them is the moment `restore` moves a database aside: the file and
# the side files SQLite would apply to it lay together under one name. So it writes down their
# sizes and SHA-256 beside them (NAME.before-restore-STAMP.db.sides.json), and a backup's side
# file is applied only when it and the file are those bytes; anything else beside a backup is
# the user's to judge, and is refused.

SIDES_RECORD = ".sides.json"
RESTORED_ASIDE = "before-restore"   # NAME.before-restore-STAMP.db: a database `restore` moved aside
_RECORDED_BY = "fleetcast restore"
_JOURNAL_SIDES = ("-wal", "-journal")   # what SQLite applies to the file at the next open


def sides_record(path: Path) -> Path:
    return Path(os.fspath(path) + SIDES_RECORD)


def pending_sides(path: Path) -> list[str]:
    """The side files beside `path` that SQLite would apply to it at the next open: a -wal with
    frames, a -journal that is "hot" (SQLite's test: not empty and its first byte not zero; a
    persisted journal whose header was zeroed holds nothing to roll back)."""
    found = []
    for suffix in _JOURNAL_SIDES:
        try:
            with open(side_file(path, suffix), "rb") as handle:
                first = handle.read(1)
        except OSError:
            continue
        if first and (suffix == "-wal" or first != b"\x00"):
            found.append(suffix)
    return found


def _digest(path: Path) -> dict:
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
            size += len(block)
    return {"bytes": size, "sha256": sha.hexdigest()}


def record_moved_sides(saved: Path, suffixes) -> Path | None:
    """Write down the bytes of `saved` (a database `restore` moved aside) and of the side files
    moved with it that SQLite would apply to it; None when there are none (nothing to record)."""
    pending = [s for s in pending_sides(saved) if s in suffixes]
    if not pending:
        return None
    record = {"written_by": _RECORDED_BY, "file": saved.name, **_digest(saved),
              "side_files": {s: _digest(side_file(saved, s)) for s in pending}}
    target = sides_record(saved)
    with open(target, "x", encoding="utf-8") as handle:
        json.dump(record, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    return target


def read_sides_record(path: Path) -> dict | None:
    """The record `restore` wrote beside `path`, or None (none, unreadable, or not one of ours)."""
    try:
        with open(sides_record(path), encoding="utf-8") as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("written_by") != _RECORDED_BY \
            or not isinstance(record.get("side_files"), dict):
        return None
    return record


def sides_unrecorded(path: Path, pending: list[str]) -> str | None:
    """Why the side files `pending` beside `path` are not known to be its own ('no record', or
    what differs from the record), None when the record names each of them at its size. (The
    bytes are compared on the copies that are applied: see applied_copy.)"""
    record = read_sides_record(path)
    if record is None:
        return "no record"
    for suffix in pending:
        entry = record["side_files"].get(suffix)
        try:
            size = os.stat(side_file(path, suffix)).st_size
        except OSError:
            size = -1
        if not isinstance(entry, dict) or entry.get("bytes") != size:
            return _not_as_recorded(side_file(path, suffix), sides_record(path))
    return None


def _not_as_recorded(name: Path, record: Path) -> str:
    return f"{name.name} is not as `restore` recorded it in {record.name} when it moved it aside (its bytes changed)"


class NotRecorded(StoreError):
    """The copies of a backup and its side files are not the bytes `restore` recorded."""


def applied_copy(source: Path, pending: list[str], folder: Path) -> Path:
    """A copy of `source` in `folder` with its side files `pending` applied (the -wal replayed,
    the interrupted transaction of a -journal rolled back) by SQLite itself, on copies: the
    backup and its side files keep their bytes. The copies must be the bytes recorded when
    `restore` moved them aside (NotRecorded otherwise). OSError, sqlite3.Error on failure."""
    record = read_sides_record(source) or {}
    copy = folder / "backup.db"
    shutil.copyfile(source, copy)
    for suffix in pending:
        shutil.copyfile(side_file(source, suffix), side_file(copy, suffix))
    wanted = {"": {k: record.get(k) for k in ("bytes", "sha256")}, **record.get("side_files", {})}
    for suffix in ("", *pending):
        if _digest(side_file(copy, suffix)) != wanted.get(suffix):
            raise NotRecorded(_not_as_recorded(side_file(source, suffix), sides_record(source)))
    conn = sqlite3.connect(copy)
    try:
        conn.execute("PRAGMA schema_version").fetchall()   # the first read applies them
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()   # (a no-op with a rollback journal)
    finally:
        conn.close()
    return copy


def backup_sides_to_apply(source: Path) -> list[str]:
    """The backup's -wal/-journal that SQLite would apply to it, when `restore` recorded them as
    its own on moving them aside together ([] when there are none). Otherwise refused: a backup
    `fleetcast backup` wrote is whole (no -wal, no -journal), and a side file does not say which
    file it was written against: one copied there with another database's changes (or left by a
    session on a same-named file) was replayed into the backup by the read, and restored as if it
    were the backup. Only the user can tell then, so the refusal says how to go on."""
    pending = pending_sides(source)
    if not pending:   # (an empty -wal holds nothing: SQLite reads the file alone)
        return []
    first = side_file(source, pending[0])
    if is_open_here(source):   # (never lock it: closing our descriptors would drop a window's locks)
        raise UserError(f"{source}: can't be restored: it is open in this program; close it, then restore "
                        "again; nothing was changed")
    if side_file(source, "-shm").exists() or "-journal" in pending:
        try:
            with held_against_others(source):
                pass
        except StoreError:
            # a program has the backup open now: that side file is its live changes, which it writes
            # in (and deletes) when it closes; moving it aside would lose them
            raise UserError(f"{source}: can't be restored: another program has it open ({first.name} beside it holds "
                            "that program's changes); close that program, then restore again; nothing was "
                            "changed") from None
        except OSError:   # (the backup can't be opened to ask: said by the refusal below all the same)
            pass
    why = sides_unrecorded(source, pending)
    if why is None:
        return pending
    refuse_sides(source, pending, why)


def refuse_sides(source: Path, pending: list[str], why: str) -> NoReturn:
    """The refusal of side files beside a backup that `restore` did not record as its own (`why`:
    'no record', or what differs from the record), with the ways to go on."""
    shm = side_file(source, "-shm")
    if "-journal" in pending:
        journal = side_file(source, "-journal").name
        known = "" if why == "no record" else f" ({why})"
        raise UserError(f"{source}: can't be restored: {journal} sits beside it{known}, the saved pages of a "
                        "transaction interrupted while writing the file, which SQLite would roll back into it and "
                        "which may be another database's (a backup made by `fleetcast backup` never has one: it is "
                        "written whole); if a program was killed while writing this file, open it once with "
                        f"{_open_once(source)} (that rolls the transaction back) and restore again; if {journal} was "
                        "copied there, move it to another folder and restore again; nothing was changed")
    wal = side_file(source, "-wal").name
    sides = f"{wal} (and {shm.name})" if shm.exists() else wal
    both = f"{wal} and {shm.name}" if shm.exists() else wal
    if why == "no record" and f".{RESTORED_ASIDE}-" not in source.name:
        raise UserError(f"{source}: can't be restored: {wal} sits beside it, changes SQLite would replay into "
                        "the backup that may be another database's (a backup made by `fleetcast backup` never has "
                        f"one: it is written whole); move {sides} to another folder and restore again (if it is the "
                        "backup's own, left by a session that had the backup itself open, that session's changes not "
                        "yet written into the file are left out); nothing was changed")
    # a file `restore` moved aside (by its name), or one it recorded other bytes for: likely its
    # own -wal, so the way to keep its changes comes first
    known = ("nothing records that `restore` moved the two aside together (an older Fleetcast wrote no "
             f"record, or {sides_record(source).name} was moved)") if why == "no record" else why
    raise UserError(f"{source}: can't be restored: {wal} beside it holds changes not yet written into the file, "
                    f"and {known}, so they may be another database's; if they are this file's own, open it once "
                    f"with {_open_once(source)}, which writes them in, then restore it again (moving {both} to "
                    "another folder instead restores it without those changes); nothing was changed")


def _open_once(source: Path) -> str:
    return f"`fleetcast --db {shlex.quote(str(source))} orders list`"
