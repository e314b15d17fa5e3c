"""Where a replica keeps its index: ``<index_dir>/current`` points at one ``index-*`` directory.

A rebuild fills a ``building-*`` directory, renames it to ``index-*`` once it is complete and
then replaces the ``current`` symlink with ``rename(2)``, which is atomic: a reader sees either
the old index or the new one, never a half-built one.

The index directories themselves live in a storage folder, by default on tmpfs: a tantivy
commit makes about ten fsyncs, which on a disk would dominate the time from event to
searchable (docs/decisions/0832-search-commit-and-query-costs.md). tmpfs survives a crash
of the process; after a reboot ``current`` dangles, the index counts as unreadable and
rebuilds from offset 0, as any lost index does.
"""

import hashlib
import os
import shutil
import time
from pathlib import Path

CURRENT = "current"
OWNER_FILE = ".index-dir"
SHARED_MEMORY = Path("/dev/shm")  # noqa: S108 - private 0700 folder, checked to be ours


def storage_dir(index_dir: Path, configured: Path | None) -> Path:
    """The folder for this replica's index directories (one per ``index_dir``)."""
    base = configured or private_folder(SHARED_MEMORY / f"taskstream-search-{os.getuid()}")
    index_dir.mkdir(parents=True, exist_ok=True)  # before the owner file: see remove_orphans
    if base is None:
        return index_dir
    key = hashlib.sha256(str(index_dir.resolve()).encode()).hexdigest()[:16]
    folder = base / key
    folder.mkdir(parents=True, exist_ok=True)
    (folder / OWNER_FILE).write_text(str(index_dir.resolve()))
    return folder


def private_folder(path: Path) -> Path | None:
    """``path`` as a folder only this user can enter, or None if that cannot be had."""
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        status = path.lstat()
    except OSError:
        return None
    if path.is_symlink() or status.st_uid != os.getuid() or status.st_mode & 0o077:
        return None
    return path


def remove_orphans(storage: Path) -> None:
    """Drop the storage of index dirs that no longer exist (e.g. finished test sessions)."""
    for folder in storage.parent.iterdir():
        owner = folder / OWNER_FILE
        if folder != storage and owner.is_file() and not Path(owner.read_text()).exists():
            shutil.rmtree(folder, ignore_errors=True)


def current_target(index_dir: Path) -> Path | None:
    link = index_dir / CURRENT
    if not link.is_symlink():
        return None
    return (index_dir / os.readlink(link)).resolve()


def new_build_dir(storage: Path) -> Path:
    storage.mkdir(parents=True, exist_ok=True)
    path = storage / f"building-{time.time_ns()}"
    path.mkdir()
    return path


def finish_build(build_dir: Path) -> Path:
    """Give a complete build its final name, so cleanup can never remove one in progress."""
    final = build_dir.with_name(build_dir.name.replace("building-", "index-", 1))
    build_dir.rename(final)
    return final


def swap_current(index_dir: Path, target: Path) -> None:
    index_dir.mkdir(parents=True, exist_ok=True)
    temporary = index_dir / f".{CURRENT}-{time.time_ns()}"
    temporary.symlink_to(target.resolve())
    temporary.replace(index_dir / CURRENT)


def remove_stale(storage: Path, *, keep: Path) -> None:
    """Delete finished indexes that ``current`` no longer names (open files stay readable)."""
    for path in storage.glob("index-*"):
        if path.resolve() != keep.resolve():
            shutil.rmtree(path, ignore_errors=True)
