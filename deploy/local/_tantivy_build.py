"""tantivy-py with our patches, built once per machine into the cache.

The search service commits once per event. The patches in ``tantivy/`` (each says why at its
top) lower the merge floor, so the small end of the index is not merged again every seven
commits, shrink what every new segment allocates up front (a term hash table and one FST
node registry per field, a zeroed 1 MB page per indexing arena), which dominated the CPU of a
commit of a few documents, let a commit carry the consumer's offsets as its payload (the
index needs no offsets document, whose replacement every commit was a delete applied to every
segment), let a zero-score filter matching a whole segment drop out of the intersection, and
sum a word's fuzzy clauses bit by bit for the documents an intersection visits, not one by one
for all of them.
``make venv`` installs the stock wheel from PyPI with everything else, then this replaces it
with the patched build of the very same version.
"""

import hashlib
import json
import os
import shutil
import sys
import tarfile
from functools import partial
from importlib import metadata
from pathlib import Path

from deploy.local._stack_install import StackError, build_once, require, run_step, say

TANTIVY_VERSION = "0.27.0"
TANTIVY_PATCHES = Path(__file__).with_name("tantivy")
# Applies every patch to an unpacked sdist; the Dockerfile runs it too.
PREPARE_SOURCE = TANTIVY_PATCHES / "prepare-source.sh"
# The sdist on PyPI the patches are written against (sha256sum format, the Dockerfile checks
# it too); any other source is refused.
TANTIVY_SDIST_CHECKSUM = TANTIVY_PATCHES / "sdist.sha256"


def tantivy_wheel_dir(cache: Path) -> Path:
    # The patches' hash names the build, so an edited patch is never served an old wheel.
    digest = hashlib.sha256()
    for path in sorted(TANTIVY_PATCHES.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return cache / f"tantivy-{TANTIVY_VERSION}-patched-{digest.hexdigest()[:8]}"


def installed_from(wheel: Path) -> bool:
    """Whether this interpreter's tantivy was installed from exactly this wheel file."""
    try:
        direct_url = metadata.distribution("tantivy").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return False
    return direct_url is not None and json.loads(direct_url).get("url") == wheel.as_uri()


def install_tantivy(cache: Path) -> str:
    """Build the patched wheel if the cache lacks it; install it here unless it already is."""
    wheel_dir = build_once(
        tantivy_wheel_dir(cache),
        f"==> search: building tantivy-py {TANTIVY_VERSION} with our patches (first run, ~3 min)",
        partial(_build_wheel, cache),
    )
    wheel = next(wheel_dir.glob("tantivy-*.whl"))
    if not installed_from(wheel):
        pip_install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
        run_step(
            [*pip_install, "--force-reinstall", str(wheel)],
            log=wheel_dir / "install.log",
            cwd=wheel_dir,
        )
    return f"tantivy: {wheel.name} (patched) installed in {sys.prefix}"


def _build_wheel(cache: Path, out: Path) -> None:
    require("cargo", "Rust 1.80+ (https://rustup.rs)")
    require("git", "git (Debian package git)")
    log = out / "build.log"
    say(f"    pip download tantivy=={TANTIVY_VERSION} (source distribution)")
    pip = [sys.executable, "-m", "pip"]
    download = ["download", "--no-binary", ":all:", "--no-deps", "--dest", str(out)]
    run_step([*pip, *download, f"tantivy=={TANTIVY_VERSION}"], log=log, cwd=out)
    expected, name = TANTIVY_SDIST_CHECKSUM.read_text().split()
    sdist = out / name
    if hashlib.sha256(sdist.read_bytes()).hexdigest() != expected:
        raise StackError(f"{name} from the index does not match {TANTIVY_SDIST_CHECKSUM.name}")
    with tarfile.open(sdist) as archive:
        archive.extractall(out, filter="data")
    source = out / f"tantivy-{TANTIVY_VERSION}"
    # Crates are downloaded into the taskstream cache; the build tree is thrown away after.
    env = {
        **os.environ,
        "CARGO_HOME": str(cache / "cargo"),
        "CARGO_TARGET_DIR": str(out / "target"),
    }
    say("    patching the binding and the tantivy and tantivy-fst crates (cargo fetch)")
    run_step(["bash", str(PREPARE_SOURCE), str(source)], log=log, cwd=out, env=env)
    say("    pip wheel: maturin compiles tantivy and ~150 crates (release build)")
    run_step(
        [*pip, "wheel", "--no-deps", "--wheel-dir", str(out), str(source)],
        log=log,
        cwd=out,
        env=env,
    )
    for leftover in (source, out / "target"):
        shutil.rmtree(leftover)
    sdist.unlink()
