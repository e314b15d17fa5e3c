"""Where a replica keeps its index: ``<index_dir>/current`` points at one ``index-*`` directory.

A rebuild fills a ``building-*`` directory, renames it to ``index-*`` once it is complete and
then replaces the ``current`` symlink with ``rename(2)``, which is atomic: a reader sees either
the old index or the new one, never a half-built one.
"""

import os
import shutil
import time
from pathlib import Path

CURRENT = "current"


def current_target(root: Path) -> Path | None:
    link = root / CURRENT
    if not link.is_symlink():
        return None
    return (root / os.readlink(link)).resolve()


def new_build_dir(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"building-{time.time_ns()}"
    path.mkdir()
    return path


def finish_build(build_dir: Path) -> Path:
    """Give a complete build its final name, so cleanup can never remove one in progress."""
    final = build_dir.with_name(build_dir.name.replace("building-", "index-", 1))
    build_dir.rename(final)
    return final


def swap_current(root: Path, target: Path) -> None:
    temporary = root / f".{CURRENT}-{time.time_ns()}"
    temporary.symlink_to(target.name)
    temporary.replace(root / CURRENT)


def remove_stale(root: Path, *, keep: Path) -> None:
    """Delete finished indexes that ``current`` no longer names (open files stay readable)."""
    for path in root.glob("index-*"):
        if path.resolve() != keep.resolve():
            shutil.rmtree(path, ignore_errors=True)
