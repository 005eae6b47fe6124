"""Atomic writes: a file or a folder appears complete or not at all.

Files: a temporary file beside the target (`.NAME.PID.XXXX.tmp`), renamed onto it on success. A
write killed mid-way (kill -9) leaves its temporary file behind; the next write to the same path
removes every such file whose writer (the PID in its name) is no longer running.

Folders (`staged_folder`, the build projects): written into a hidden sibling `.NAME.PID.XXXX.tmp`,
then swapped into place. The swap never leaves a moment without the project:
  1. where the kernel and file system support it (Linux >= 3.15: ext4, xfs, btrfs, tmpfs, ...), one
     renameat2(RENAME_EXCHANGE) exchanges the new folder with the old one atomically; the old one,
     now at the temporary name, is then removed;
  2. otherwise two renames: old -> `.NAME.old-PID` (the backup), new -> NAME. A kill between the two
     leaves only the backup; the next run to that path (`recover_folder`, called by every
     staged_folder) renames it back before doing anything else, and removes backups that are no
     longer needed.
Folders are created with the usual permissions (0777 & ~umask), not mkdtemp's 0700.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from toolchain.errors import UserError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _stale(parent: Path, name: str, kind: str) -> list[Path]:
    """Leftovers of writes to `name` in `parent` killed before they finished: `.NAME.PID.*.tmp`
    (kind "tmp") or `.NAME.old-PID` (kind "old"), whose PID is not running."""
    if kind == "tmp":
        pattern = re.compile(rf"^\.{re.escape(name)}\.(\d+)\..+\.tmp$")
    else:
        pattern = re.compile(rf"^\.{re.escape(name)}\.old-(\d+)$")
    try:
        entries = list(parent.iterdir())
    except OSError:
        return []
    return [p for p in entries if (m := pattern.match(p.name)) and not _alive(int(m.group(1)))]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def clean_stale(path: str | os.PathLike) -> None:
    """Remove the temporary files and folders that killed writes to `path` left behind."""
    path = Path(path)
    for leftover in _stale(path.parent, path.name, "tmp"):
        _remove(leftover)


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot write {path}: cannot create its folder ({err.strerror})") from None


def _prepare_parent(path: Path) -> None:
    _make_parent(path)
    if path.is_dir():
        raise UserError(f"cannot write {path}: it is a folder")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    _prepare_parent(path)
    clean_stale(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise UserError(f"cannot write {path} ({err.strerror})") from None
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_csv(path: str | os.PathLike, rows: list[dict], fields: list[str]) -> None:
    """rows as CSV with a header of `fields`, atomically (the studies' results.csv / partial.csv)."""
    import csv

    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


# ---- folders ------------------------------------------------------------------------------------

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two existing paths (Linux renameat2 RENAME_EXCHANGE); False where the
    kernel, the C library or the file system does not support it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def recover_folder(target: str | os.PathLike) -> None:
    """Undo what a killed folder swap left: the backup of a target that is missing is renamed back;
    backups whose target exists, and staging folders of dead writers, are removed."""
    target = Path(target)
    backups = _stale(target.parent, target.name, "old")
    if backups and not target.exists():
        newest = max(backups, key=lambda p: p.stat().st_mtime)
        os.replace(newest, target)
        backups.remove(newest)
    for leftover in backups + _stale(target.parent, target.name, "tmp"):
        _remove(leftover)


def swap_folder(new: Path, target: Path) -> None:
    """Put the complete folder `new` at `target`, replacing what is there, with no moment where
    `target` is missing (see the module docstring); the old folder is removed."""
    if not target.exists():
        os.replace(new, target)
        return
    if _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # `new` now names the old folder
        return
    backup = target.parent / f".{target.name}.old-{os.getpid()}"
    os.replace(target, backup)
    os.replace(new, target)
    shutil.rmtree(backup, ignore_errors=True)


@contextmanager
def staged_folder(target: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty hidden sibling folder; on success it replaces `target` (swap_folder), on an
    exception it is removed and `target` is untouched."""
    target = Path(target)
    _make_parent(target)
    recover_folder(target)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent))
    except OSError as err:
        raise UserError(f"cannot write {target} ({err.strerror})") from None
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
    try:
        yield tmp
        swap_folder(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
