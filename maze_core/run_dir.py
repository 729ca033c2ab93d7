"""The run directory: the one place that reads, writes, locks and removes a run's files.

A run directory is treated as data that anyone may have edited, so everything here is defensive:

* every file is written atomically (a temporary file in the same directory, flushed, fsynced and
  renamed over the old one), so a crash, ``kill -9`` or a full disk leaves the previous version;
  Ctrl-C and SIGTERM are held back until a write is complete;
* nothing is written through a link: a symbolic link at a run file's name is refused, temporary
  files are created with ``O_EXCL | O_NOFOLLOW`` and renamed over the old name (so a hard link
  there keeps its content), and the lock file is used only while it is Maze's own;
* only regular files are read or removed, checked with ``lstat`` before anything opens them (a
  FIFO at a run file's name would block a reader forever);
* one process writes to a run directory at a time (:class:`RunLock`); a lock left by a killed
  process is released by the kernel;
* ``--overwrite`` removes only the files a run writes (:data:`RUN_FILES`), only in a directory that
  is a Maze run, and only once the new run is built;
* a damaged ``.pt`` file is a one-line error that names the last good file to recover from.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import secrets
import signal
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from maze_core.errors import ConfigurationError, MazeError, RunDirectoryError, short_repr

CONFIG_FILE = "config.json"
BEST_MODEL_FILE = "state_dict.pt"
CHECKPOINT_FILE = "checkpoint.pt"
STATS_FILE = "stats.jsonl"
EVENTS_PATTERN = "events.out.tfevents.*"
CURVE_FILE = "curve.png"  # written by `maze train` at the end (maze_core/plot.py)
REPLAY_BUFFER_FILE = "replay_buffer.pt"  # off-policy runs with save_replay_buffer, with each checkpoint
#: what a run writes into its directory (``--overwrite`` removes exactly these)
RUN_FILES = (
    CONFIG_FILE,
    BEST_MODEL_FILE,
    CHECKPOINT_FILE,
    STATS_FILE,
    EVENTS_PATTERN,
    CURVE_FILE,
    REPLAY_BUFFER_FILE,
)
LOCK_FILE = ".maze.lock"
#: the suffix of Maze's temporary files (``.<name>.<random>.maze-tmp``): stale ones are removed
TEMP_SUFFIX = ".maze-tmp"


# --- checks ----------------------------------------------------------------------------------------


def check_run_dir(run_dir: str | Path | None, *, resume: bool, overwrite: bool) -> Path | None:
    """``run_dir`` as a Path, refused at once if it cannot hold this run.

    A fresh run (not ``resume``) refuses a directory that holds run files unless ``overwrite``,
    and ``overwrite`` refuses a directory holding files that is not a Maze run.
    """
    if run_dir is None:
        return None
    if str(run_dir).strip() == "":
        raise ConfigurationError(
            "the run directory is empty (''); give a directory, or none for the default "
            "outputs/<env>-<algorithm>-<runner>/<time>"
        )
    run_dir = Path(run_dir)
    existing = next((p for p in (run_dir, *run_dir.parents) if os.path.lexists(p)), None)
    if existing is not None and not existing.is_dir():
        where = "is" if existing == run_dir else f"is below {existing}, which is"
        raise ConfigurationError(f"run directory {run_dir} {where} a file, not a directory; choose another")
    files = run_files(run_dir)
    for path in files:
        _refuse_special(path)
    if resume or not files:
        return run_dir
    if not overwrite:
        raise ConfigurationError(
            f"{run_dir} holds a run already: continue it with --resume {run_dir} (resume=True in Python), "
            "replace it with --overwrite (overwrite=True), or choose another run directory"
        )
    if not is_maze_run(run_dir):
        raise ConfigurationError(
            f"{run_dir} is not a Maze run (it has no valid {CONFIG_FILE}) but holds "
            f"{', '.join(p.name for p in files)}; --overwrite only replaces Maze runs, "
            "so choose another run directory"
        )
    return run_dir


def is_resumable(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds what ``--resume`` continues from: a config and a checkpoint."""
    return all(os.path.lexists(run_dir / name) for name in (CONFIG_FILE, CHECKPOINT_FILE))


def run_files(run_dir: Path) -> list[Path]:
    """The files of a run in ``run_dir`` (links included), sorted; [] if there is no such directory."""
    if not run_dir.is_dir():
        return []
    return sorted({path for pattern in RUN_FILES for path in run_dir.glob(pattern)})


def is_maze_run(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a ``config.json`` that Maze wrote (a JSON object with a seed and the
    run's arguments)."""
    try:
        config = read_json(run_dir / CONFIG_FILE)
    except RunDirectoryError:
        return False
    return isinstance(config, dict) and {"seed", "arguments"} <= config.keys()


def remove_run(run_dir: Path) -> None:
    """Remove the files of the earlier run in ``run_dir`` (a link is removed, not what it points to)."""
    for path in run_files(run_dir):
        if path.is_symlink() or path.is_file():
            _os_call(path, "remove", path.unlink)


def refuse_links(run_dir: Path) -> None:
    """Refuse to write into ``run_dir`` while a run file in it is a symbolic link."""
    for path in run_files(run_dir):
        _refuse_link(path)


def _refuse_link(path: Path) -> None:
    if path.is_symlink():
        raise _link_error(path)


def _link_error(path: Path) -> RunDirectoryError:
    return RunDirectoryError(
        f"{path} is a symbolic link; Maze never reads or writes through links in a run directory: "
        "remove the link (or choose another run directory)"
    )


def _refuse_special(path: Path, *, links: bool = True) -> None:
    """Refuse a run file that is not a regular file (a FIFO, a socket, a device, a directory; a
    symbolic link too unless ``links``), checked with ``lstat`` before anything opens it: Maze
    neither reads nor removes what it cannot have written, and a FIFO would block a reader."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as error:
        raise _os_error(path, "read", error) from None
    if stat.S_ISLNK(mode) and not links:
        raise _link_error(path)
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise _special_error(path, mode)


def _special_error(path: Path, mode: int) -> RunDirectoryError:
    return RunDirectoryError(
        f"{path} is {_file_kind(mode)}, not a regular file; Maze only reads and removes the regular "
        "files it writes: remove it yourself (or choose another run directory)"
    )


def _file_kind(mode: int) -> str:
    kinds = {
        stat.S_ISFIFO: "a FIFO (named pipe)",
        stat.S_ISSOCK: "a socket",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISDIR: "a directory",
        stat.S_ISLNK: "a symbolic link",
    }
    return next((kind for test, kind in kinds.items() if test(mode)), "not a regular file")


# --- the lock --------------------------------------------------------------------------------------


class RunLock:
    """An exclusive lock on a run directory, held while a run writes to it.

    ``fcntl.flock`` on ``.maze.lock``, which also holds the holder's process id for the error a
    second writer gets. The kernel drops the lock when its holder dies, so a killed run never
    blocks the directory. Acquiring it also removes temporary files left by a killed writer.
    """

    def __init__(self, run_dir: Path):
        import fcntl

        self._fd: int | None = None
        self.run_dir = run_dir
        path = run_dir / LOCK_FILE
        #: the directories this lock created (the run directory and missing parents), deepest first
        self.created = [d for d in (run_dir, *run_dir.parents) if not os.path.lexists(d)]
        _os_call(run_dir, "create", lambda: run_dir.mkdir(parents=True, exist_ok=True))
        _refuse_special(path, links=False)
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        while True:
            fd = _os_call(path, "create", lambda: os.open(path, flags, 0o644))
            try:
                _check_own_lock_file(path, fd)
            except BaseException:
                os.close(fd)
                raise
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise RunDirectoryError(
                    f"{run_dir} is in use by another run (process {holder}); wait until it ends, or "
                    "choose another run directory"
                ) from None
            # the holder before us may have removed the file after we opened it: lock the current one
            if os.path.lexists(path) and os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino:
                break
            os.close(fd)
        self._fd = fd
        self._path = path
        try:
            _os_call(path, "write", lambda: _write_pid(fd))
            remove_stale_temporaries(run_dir)
        except BaseException:
            self.release()
            raise

    def release(self, remove_created: bool = False) -> None:
        """Unlock. ``remove_created``: also remove the directories the lock created, where they are
        still empty (a run that failed before writing anything leaves nothing behind; nothing Maze
        did not create is touched)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._path)
            os.close(self._fd)
            self._fd = None
        if remove_created:
            for directory in self.created:
                with contextlib.suppress(OSError):  # not empty, or gone: left alone
                    os.rmdir(directory)
            self.created = []

    def __del__(self):
        self.release()


def _write_pid(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())


def _check_own_lock_file(path: Path, fd: int) -> None:
    """Refuse a lock file that Maze must not write into: not a regular file (a FIFO, a device), or a
    regular file with another name elsewhere (a hard link to a file the user owns, which
    truncating would destroy)."""
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode):
        raise _special_error(path, status.st_mode)
    if status.st_nlink > 1:
        raise RunDirectoryError(
            f"{path} is a hard link to another file ({status.st_nlink} names); Maze never writes into "
            "a file that has other names: remove the link (or choose another run directory)"
        )


def remove_stale_temporaries(run_dir: Path) -> None:
    """Remove temporary files a killed writer left (only regular files with Maze's suffix)."""
    for path in run_dir.glob(f".*{TEMP_SUFFIX}"):
        if not path.is_symlink() and path.is_file():
            with contextlib.suppress(OSError):
                path.unlink()


# --- writing ---------------------------------------------------------------------------------------


def atomic_write(path: str | Path, write: Callable[[BinaryIO], Any]) -> None:
    """Write ``path`` with ``write(file)`` so that it holds either its old or its complete new content.

    The data goes to a new temporary file in the same directory (``O_EXCL | O_NOFOLLOW``), is
    flushed and fsynced, then renamed over ``path``. A link at ``path`` is refused. Ctrl-C and
    SIGTERM arriving meanwhile are delivered once the file is in place. A failure (a full disk,
    a read-only file system) removes the temporary file and raises a one-line RunDirectoryError.
    """
    path = Path(path)
    _refuse_link(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
    with signals_held_back():
        try:
            fd = os.open(
                temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644
            )
            with os.fdopen(fd, "wb") as file:
                write(file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException as error:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            if isinstance(error, OSError):
                raise _os_error(path, "write", error) from None
            raise
        _fsync_directory(path.parent)


def write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda file: file.write(text.encode()))


def append_line(path: str | Path, line: str) -> None:
    """Append one line to a text file, atomically (the file is rewritten: it stays small)."""
    path = Path(path)
    before = read_bytes(path) if os.path.lexists(path) else b""
    if before and not before.endswith(b"\n"):
        before += b"\n"
    atomic_write(path, lambda file: file.write(before + line.encode() + b"\n"))


def save_torch(obj: Any, path: str | Path) -> None:
    """``torch.save(obj)`` to ``path``, atomically. It is serialized in memory first, so a failing
    disk is our own write's OSError, not one that torch's writer may report as a RuntimeError."""
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write(path, lambda file: file.write(buffer.getbuffer()))


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (best effort: not every file system supports it)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def signals_held_back() -> Iterator[None]:
    """Hold back Ctrl-C and SIGTERM until the block is done, then deliver the first that came.

    The Python-level handlers are swapped for one that only records the signal (blocking the
    signal at the OS level is not enough: another thread, such as TensorBoard's writer, would
    receive it and the interpreter would still raise in the middle of the block). Handlers that
    are not Python functions (the default action, ignore) are left as they are.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    held = {number: handler for number, handler in previous.items() if callable(handler)}
    for number in held:
        signal.signal(number, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        for number, handler in held.items():
            signal.signal(number, handler)
        if pending:
            held[pending[0]](pending[0], None)


# --- reading ---------------------------------------------------------------------------------------


#: how deeply a run file's JSON may nest: Maze writes a handful of levels, and a value nested
#: thousands deep would exhaust Python's recursion limit in whatever walks it
MAX_JSON_DEPTH = 64


def open_regular(path: str | Path) -> BinaryIO:
    """``path`` opened for reading, if it is a regular file: checked with ``lstat`` before it is
    opened (a FIFO would block ``open``) and again on the open file (it may have been swapped in
    between); a link, a FIFO or a device is a one-line RunDirectoryError."""
    path = Path(path)
    _refuse_special(path, links=False)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    fd = _os_call(path, "read", lambda: os.open(path, flags))
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise _special_error(path, mode)
    return os.fdopen(fd, "rb")


def read_bytes(path: str | Path) -> bytes:
    """The content of the regular file ``path`` (see :func:`open_regular`)."""
    with open_regular(path) as file:
        return _os_call(Path(path), "read", file.read)


def read_text(path: str | Path) -> str:
    """The UTF-8 text of the regular file ``path``; other bytes are a one-line RunDirectoryError."""
    try:
        return read_bytes(path).decode()
    except UnicodeDecodeError as error:
        raise RunDirectoryError(
            f"{path} is damaged: it is not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None


def parse_json(text: str) -> Any:
    """``json.loads(text)``, refusing values nested deeper than :data:`MAX_JSON_DEPTH` (ValueError)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"it nests deeper than {MAX_JSON_DEPTH} levels") from None
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth >= MAX_JSON_DEPTH:
                    raise ValueError(f"it nests deeper than {MAX_JSON_DEPTH} levels")
                pending.append((child, depth + 1))
    return value


def read_json(path: str | Path) -> Any:
    """The JSON value in the regular file ``path``; damage is a one-line RunDirectoryError."""
    try:
        return parse_json(read_text(path))
    except ValueError as error:
        raise RunDirectoryError(f"{path} is damaged: it is not valid JSON ({error})") from None


def load_torch(path: str | Path, map_location=None) -> Any:
    """Weights from ``path`` (``weights_only``: nothing in the file is run); a damaged or foreign
    file is a one-line RunDirectoryError naming the last good file of the run."""
    import torch

    path = Path(path)
    if not os.path.lexists(path):
        raise RunDirectoryError(f"{path} does not exist: the run has not saved it yet")
    with open_regular(path) as file:
        try:
            state = torch.load(file, map_location=map_location, weights_only=True)
        except Exception as error:  # noqa: BLE001 - any failure means the file cannot be used
            raise RunDirectoryError(f"{path} is damaged: {_first_line(error)}; {_last_good(path)}") from None
    broken = _non_finite_tensor(state)
    if broken is not None:
        raise RunDirectoryError(
            f"{path} is damaged: {broken} holds NaN or infinite values (Maze never saves such weights); "
            f"{_last_good(path)}"
        )
    return state


def _non_finite_tensor(state: Any, name: str = "") -> str | None:
    """The name of the first floating-point tensor in ``state`` with a NaN or an infinity, or None."""
    import torch

    if isinstance(state, torch.Tensor):
        finite = not state.is_floating_point() or bool(state.isfinite().all())
        return None if finite else name or "a tensor"
    if isinstance(state, dict):
        items = state.items()
    elif isinstance(state, (list, tuple)):
        items = enumerate(state)
    else:
        return None
    for key, value in items:
        broken = _non_finite_tensor(value, f"{name}.{key}" if name else str(key))
        if broken is not None:
            return broken
    return None


def read_stats(run_dir: str | Path) -> list[dict]:
    """The epochs' statistics in the run's ``stats.jsonl``, one dict per epoch ([] before the first
    epoch); a line that is not what Maze writes (the file was edited or damaged) is a one-line
    RunDirectoryError naming the line."""
    path = Path(run_dir) / STATS_FILE
    if not os.path.lexists(path):
        return []
    stats = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = parse_json(line)
        except ValueError as error:
            problem = f"is not JSON ({error})"
        else:
            problem = _stats_line_problem(value)
        if problem:
            raise RunDirectoryError(
                f"{path} is damaged: line {number} {problem}; the checkpoint and the best model do not "
                "depend on it: remove the line to go on"
            )
        stats.append(value)
    return stats


def _stats_line_problem(line: Any) -> str | None:
    """What keeps ``line`` from being an epoch's statistics as Maze writes them, or None:
    ``{"epoch": <whole number >= 1>, "time": <number>, "<section>": {"<name>": <number>, ...}}``."""
    if not isinstance(line, dict):
        return f"is not a JSON object but {type(line).__name__}"
    epoch = line.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        return f"has no epoch number (epoch={short_repr(epoch)})"
    for key, value in line.items():
        if key == "time" and not _is_number(value):
            return f"has time={short_repr(value)}, which is not a number"
        if key not in ("epoch", "time"):
            if not isinstance(value, dict):
                return f"has {key}={short_repr(value)}, which is not an object of statistics"
            bad = next((name for name, number in value.items() if not _is_number(number)), None)
            if bad is not None:
                return f"has {key}.{bad}={short_repr(value[bad])}, which is not a number"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def restore(path: str | Path, apply: Callable[[Any], None], map_location=None) -> None:
    """Load ``path`` and hand it to ``apply`` (a ``load_state_dict``), see :func:`fitting`."""
    state = load_torch(path, map_location)
    with fitting(path):
        apply(state)


@contextlib.contextmanager
def fitting(path: str | Path) -> Iterator[None]:
    """Weights from ``path`` that do not fit the networks they are loaded into (the env or the
    network settings changed) are a one-line RunDirectoryError."""
    try:
        yield
    except MazeError as error:  # the loader's own one-line reason
        raise RunDirectoryError(f"{path} cannot be used: {error}") from None
    except (RuntimeError, KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        raise RunDirectoryError(
            f"{path} does not fit this run's networks ({_first_line(error)}): the env or the network "
            "settings differ from those it was saved with; use the same ones, or start a new run"
        ) from None


def _last_good(damaged: Path) -> str:
    """Where to recover from when ``damaged`` cannot be read."""
    import torch

    other = damaged.with_name(CHECKPOINT_FILE if damaged.name == BEST_MODEL_FILE else BEST_MODEL_FILE)
    try:
        with open_regular(other) as file:
            state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001
        return f"there is no other good checkpoint in {damaged.parent}: start a new run"
    if other.name == CHECKPOINT_FILE:
        epoch = state.get("epoch", "?") if isinstance(state, dict) else "?"
        return (
            f"the last good checkpoint is {other} (epoch {epoch}): remove {damaged} and continue with "
            f"maze train --resume {damaged.parent}, which writes a new best model after its first epoch"
        )
    return (
        f"the last good checkpoint is {other} (the best model): maze evaluate {damaged.parent} still "
        "works; to train on, start a new run"
    )


def _first_line(error: BaseException) -> str:
    """The gist of an error in one line: its first sentence (and the next line after a colon)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    text = lines[0] + (f" {lines[1]}" if lines[0].endswith(":") and len(lines) > 1 else "")
    text = text.split(". ")[0].rstrip(".")
    return f"{type(error).__name__}: {text[:300]}"


# --- OS errors as one line -------------------------------------------------------------------------


def _os_call(path: Path, action: str, function: Callable[[], Any]) -> Any:
    try:
        return function()
    except OSError as error:
        raise _os_error(path, action, error) from None


def _os_error(path: Path, action: str, error: OSError) -> RunDirectoryError:
    reason = error.strerror or str(error)
    hint = {
        errno.ENOSPC: "free some space",
        errno.EDQUOT: "free some space",
        errno.EFBIG: "free some space or raise the file size limit",
        errno.EROFS: "choose a run directory on a writable file system",
        errno.EACCES: "choose a run directory you may write to",
        errno.EPERM: "choose a run directory you may write to",
        errno.ENOTDIR: "choose a run directory that is not below a file",
    }.get(error.errno, "check the run directory")
    return RunDirectoryError(f"cannot {action} {path}: {reason}; {hint}")
