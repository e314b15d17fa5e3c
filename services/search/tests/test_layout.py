"""The index directory layout: atomic swaps, private tmpfs storage, cleanup of leftovers."""

from pathlib import Path

from services.search.app.layout import (
    current_target,
    finish_build,
    new_build_dir,
    remove_orphans,
    remove_stale,
    storage_dir,
    swap_current,
)


def test_a_finished_build_is_swapped_in_and_the_old_one_removed(tmp_path: Path) -> None:
    index_dir, storage = tmp_path / "index", tmp_path / "storage"
    old = finish_build(new_build_dir(storage))
    swap_current(index_dir, old)
    building = new_build_dir(storage)
    new = finish_build(building)
    swap_current(index_dir, new)
    assert current_target(index_dir) == new.resolve()
    remove_stale(storage, keep=new)
    assert not old.exists()
    assert new.exists()
    assert not building.exists()  # renamed, never deleted half-built


def test_storage_is_one_folder_per_index_dir_and_orphans_are_removed(tmp_path: Path) -> None:
    base = tmp_path / "shm"
    gone, kept = tmp_path / "gone", tmp_path / "kept"
    gone.mkdir()
    kept.mkdir()
    gone_storage, kept_storage = storage_dir(gone, base), storage_dir(kept, base)
    assert gone_storage != kept_storage
    gone.rmdir()
    remove_orphans(kept_storage)
    assert not gone_storage.exists()
    assert kept_storage.exists()


def test_no_current_index_yet(tmp_path: Path) -> None:
    assert current_target(tmp_path) is None
