#!/usr/bin/env python3
"""tantivy-py with Taskstream's patches, built into one wheel per machine (or image).

    build.py [--cache DIR] [--install]   the cached wheel (built if missing); prints its folder
    build.py --wheel-dir DIR             build into DIR without the cache (the Dockerfile)

Standard library only: `make venv` runs it before the project's own dependencies exist, and the
image runs it in its Rust stage. Needs cargo (Rust 1.80+), git and pip. Why each patch: its
header; why these steps and this profile: docs/decisions/0600-tantivy-build.md.
"""

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

UPSTREAM_VERSION = "0.27.0"
# The sdist on PyPI the patches are written against; any other is refused.
SDIST_SHA256 = "871d0dc8d3b246d6b8cbf99a2f0ec929eb4e3341ecb3a63e3c7c11c6715cd03d"
# The wheel's version names our build. Bump the number when a patch or the profile changes,
# and set INPUTS_SHA256 to what tests/deploy/test_tantivy_build.py then reports.
VERSION = f"{UPSTREAM_VERSION}+taskstream.1"
INPUTS_SHA256 = "7fd10ca696e63980740f0d49aa6f43070d89f27650d0f1ce5abf713f0ea7a94d"
HOME = Path(__file__).resolve().parent
PATCHES = HOME / "patches"
# Appended to the binding's Cargo.toml.
PROFILE = HOME / "profile.toml"
# Patches of the binding (its Rust code and its typed stub, tantivy/tantivy.pyi), in order.
BINDING_PATCHES = ("no-zstd", "merge-policy", "commit-payload", "stub-count")
# Patches of crates the binding depends on: each crate is copied from Cargo's registry into
# vendor/, patched there, and [patch.crates-io] points the whole build at the copy.
CRATE_PATCHES = {
    "tantivy": ("0.27.0", ("term-table", "const-filter", "const-union")),
    "tantivy-fst": ("0.5.0", ("fst-registry",)),
    "tantivy-stacker": ("0.27.0", ("arena-pages",)),
}


class BuildError(Exception):
    """A build step failed; the message says which and shows the end of its output."""


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def inputs_sha256() -> str:
    """What the wheel is built from, besides the checksummed sdist: the patches and profile."""
    digest = hashlib.sha256()
    for path in [*sorted(PATCHES.glob("*.patch")), PROFILE]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "taskstream"


def cached_wheel_dir(cache: Path) -> Path:
    # This script is part of the key too, so no edit of the build is ever served an old wheel.
    digest = hashlib.sha256(inputs_sha256().encode() + Path(__file__).read_bytes())
    return cache / "tantivy-py" / f"{VERSION}-{digest.hexdigest()[:8]}"


def run(argv: Sequence[str], *, log: Path, cwd: Path, env: Mapping[str, str]) -> str:
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    with log.open("a") as out:
        out.write(f"$ {' '.join(argv)}\n{result.stderr}{result.stdout}\n")
    if result.returncode != 0:
        tail = "\n".join((result.stderr + result.stdout).splitlines()[-25:])
        raise BuildError(f"`{' '.join(argv[:3])} ...` exited {result.returncode}:\n{tail}")
    return result.stdout


class Build:
    """One build in a scratch folder: sdist, patched source, wheel; timed step by step."""

    def __init__(self, out: Path, *, cargo_home: Path | None, timings: bool) -> None:
        self.out = out
        self.log = out / "build.log"
        self.env = {**os.environ, "CARGO_TARGET_DIR": str(out / "target")}
        if cargo_home is not None:
            self.env["CARGO_HOME"] = str(cargo_home)
        if timings:  # cargo's per-crate report, kept beside the wheel
            self.env["MATURIN_PEP517_ARGS"] = "--timings"
        self.pip = [sys.executable, "-m", "pip"]

    def run(self, argv: Sequence[str], cwd: Path) -> str:
        return run(argv, log=self.log, cwd=cwd, env=self.env)

    def step(self, what: str, started: float) -> None:
        say(f"    {what}: {time.monotonic() - started:.0f} s")

    def wheel(self) -> Path:
        for program in ("cargo", "git"):
            if shutil.which(program) is None:
                raise BuildError(f"{program} not found on PATH (Rust 1.80+ with cargo; git)")
        started = time.monotonic()
        source = self.download()
        self.step("download and check the sdist", started)
        started = time.monotonic()
        self.prepare(source)
        self.step("patch it and fetch its crates", started)
        started = time.monotonic()
        self.run([*self.pip, "wheel", "--no-deps", "--wheel-dir", str(self.out), "."], source)
        self.step("compile (cargo build --release through maturin)", started)
        timings = self.out / "target" / "cargo-timings" / "cargo-timing.html"
        if timings.exists():
            shutil.copy(timings, self.out)
        shutil.rmtree(source)
        shutil.rmtree(self.out / "target")
        [wheel] = self.out.glob(f"tantivy-{VERSION}-*.whl")
        return wheel

    def download(self) -> Path:
        # --no-binary names tantivy alone: with :all:, pip built maturin from source just to
        # read the sdist's metadata, a second Rust build longer than tantivy's own.
        fetch = ["download", "--no-deps", "--no-binary", "tantivy", "--dest", str(self.out)]
        self.run([*self.pip, *fetch, f"tantivy=={UPSTREAM_VERSION}"], self.out)
        sdist = self.out / f"tantivy-{UPSTREAM_VERSION}.tar.gz"
        if hashlib.sha256(sdist.read_bytes()).hexdigest() != SDIST_SHA256:
            raise BuildError(f"{sdist.name} from the index is not the one the patches are for")
        self.run(["tar", "xzf", sdist.name], self.out)
        sdist.unlink()
        return self.out / f"tantivy-{UPSTREAM_VERSION}"

    def prepare(self, source: Path) -> None:
        for name in BINDING_PATCHES:
            self.run(["git", "apply", "-p1", str(PATCHES / f"{name}.patch")], source)
        pyproject = source / "pyproject.toml"
        pyproject.write_text(
            replace_once(pyproject.read_text(), f'version = "{UPSTREAM_VERSION}"', VERSION)
        )
        # The binding's Cargo package is called tantivy like the crate it wraps, and once that
        # crate is patched Cargo's lockfile cannot tell the two apart. The Python module keeps
        # its name: it comes from [lib].
        cargo_toml = source / "Cargo.toml"
        manifest = replace_once(cargo_toml.read_text(), 'name = "tantivy"', "tantivy-py")
        cargo_toml.write_text(f"{manifest}\n{PROFILE.read_text()}")
        self.run(["cargo", "fetch", "--quiet"], source)
        registry = Path(self.env.get("CARGO_HOME", Path.home() / ".cargo")) / "registry" / "src"
        vendored = []
        for crate, (version, patches) in CRATE_PATCHES.items():
            folder = f"{crate}-{version}"
            found = sorted(registry.glob(f"*/{folder}"))
            if not found:
                raise BuildError(f"{folder} is not in {registry} after cargo fetch")
            shutil.copytree(found[0], source / "vendor" / folder)
            for name in patches:
                patch = str(PATCHES / f"{name}.patch")
                self.run(["git", "apply", "-p1", f"--directory=vendor/{folder}", patch], source)
            vendored.append(f'{crate} = {{ path = "vendor/{folder}" }}')
        with cargo_toml.open("a") as out:
            out.write("\n[patch.crates-io]\n" + "\n".join(vendored) + "\n")


def replace_once(text: str, line: str, value: str) -> str:
    """`line` (`key = "..."`) with a new quoted value; refuses a source where it is not found."""
    if line not in text:
        raise BuildError(f"`{line}` is not in the sdist: is it the one the patches are for?")
    key = line.split(" = ")[0]
    return text.replace(line, f'{key} = "{value}"', 1)


def build_into(out: Path, *, cargo_home: Path | None, timings: bool) -> Path:
    say(f"==> tantivy-py {VERSION}: building with our patches into {out}")
    started = time.monotonic()
    wheel = Build(out, cargo_home=cargo_home, timings=timings).wheel()
    say(f"    done in {time.monotonic() - started:.0f} s: {wheel.name}")
    return wheel


def cached_wheel(cache: Path, *, timings: bool) -> Path:
    """The wheel from the cache, built first if missing: in a scratch folder renamed into place
    when complete, under a lock, so an interrupted or concurrent build is never taken for done.
    """
    final = cached_wheel_dir(cache)
    final.parent.mkdir(parents=True, exist_ok=True)
    with (final.parent / f".{final.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not final.exists():
            scratch = final.with_name(f".{final.name}.partial")
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir()
            build_into(scratch, cargo_home=cache / "cargo", timings=timings)
            scratch.rename(final)
    return next(final.glob("tantivy-*.whl"))


def installed_from(wheel: Path) -> bool:
    """Whether this interpreter's tantivy was installed from exactly this wheel file."""
    try:
        direct_url = metadata.distribution("tantivy").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return False
    return direct_url is not None and json.loads(direct_url).get("url") == wheel.as_uri()


def install(wheel: Path) -> None:
    if installed_from(wheel):
        return
    say(f"==> tantivy-py: installing {wheel.name} into {sys.prefix}")
    pip_install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    run(
        [*pip_install, "--force-reinstall", str(wheel)],
        log=wheel.with_name("install.log"),
        cwd=wheel.parent,
        env=os.environ,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=default_cache(), help="%(default)s")
    parser.add_argument("--install", action="store_true", help="pip install it here if needed")
    parser.add_argument("--wheel-dir", type=Path, help="build into this folder, no cache")
    parser.add_argument("--timings", action="store_true", help="keep cargo's timing report")
    args = parser.parse_args(argv)
    try:
        if args.wheel_dir is not None:
            args.wheel_dir.mkdir(parents=True, exist_ok=True)
            wheel = build_into(args.wheel_dir, cargo_home=None, timings=args.timings)
        else:
            wheel = cached_wheel(args.cache, timings=args.timings)
        if args.install:
            install(wheel)
    except BuildError as exc:
        say(f"error: {exc}")
        return 1
    print(wheel.parent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
