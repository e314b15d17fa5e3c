"""What the stack runs, fetched or built once per machine into a cache outside the clone.

Each build happens in a scratch directory that is renamed into place only when it is complete
and checked, under a lock: an interrupted or concurrent build is never mistaken for done.
"""

import asyncio
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path

from deploy.local._stack_probes import probe_mongo, wait_until_ready
from deploy.local._stack_process import free_port, spawn, terminate, wait_stopped

KAFKA_VERSION = "3.9.2"
FERRETDB_VERSION = "v1.24.2"
FERRETDB_MODULE = "github.com/FerretDB/FerretDB"
# Our patch to FerretDB's SQLite backend (deploy/local/ferretdb/): it pushed down only a
# filter that is exactly {_id: v}, and spelled `_id` unlike its own index, so every other
# query scanned and decoded the whole collection (one user's list: 787 ms at 20,000 tasks).
# The patch pushes down top-level equalities as an index-friendly superset the handler
# re-filters (8.6 ms). It also makes update/findAndModify/delete atomic with their filter
# (a lock per document named by `_id`, else per collection, held from the read to the write),
# so a compare-and-set on `version` holds across processes (docs/decisions/0200-*.md).
# The patch's hash names the build, so another build is never reused.
FERRETDB_PATCH = Path(__file__).with_name("ferretdb") / "sqlite-pushdown.patch"
KAFKA_POM = Path(__file__).with_name("kafka") / "pom.xml"
# NAV's mock-oauth2-server: a real OpenID provider (discovery, JWKS, PKCE, a login form) for
# the dev and test stacks; every path is its own issuer, so one process plays several providers.
OIDC_PROVIDER_VERSION = "6.0.2"
OIDC_PROVIDER_POM = Path(__file__).with_name("oidc") / "pom.xml"
OIDC_PROVIDER_MAIN = "no.nav.security.mock.oauth2.StandaloneMockOAuth2ServerKt"


class StackError(Exception):
    """A step of installing or starting the stack failed; the message says which and why."""


def say(message: str) -> None:
    print(message, flush=True)


def require(program: str, hint: str) -> str:
    found = shutil.which(program)
    if found is None:
        raise StackError(f"{program} not found on PATH; install {hint}")
    return found


def run_step(
    argv: Sequence[str], *, log: Path, cwd: Path, env: Mapping[str, str] | None = None
) -> str:
    """Run one build step; its output goes to `log`, and its tail into the error if it fails."""
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    with log.open("a") as out:
        out.write(f"$ {' '.join(argv)}\n{result.stderr}{result.stdout}\n")
    if result.returncode != 0:
        tail = "\n".join((result.stderr + result.stdout).splitlines()[-25:])
        raise StackError(f"`{' '.join(argv[:3])} ...` exited {result.returncode}:\n{tail}")
    return result.stdout


def build_once(final: Path, announce: str, build: Callable[[Path], None]) -> Path:
    if final.exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with (final.parent / f".{final.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if final.exists():  # built by another process while we waited for the lock
            return final
        say(announce)
        started = time.monotonic()
        scratch = final.with_name(f".{final.name}.partial")
        shutil.rmtree(scratch, ignore_errors=True)  # what an interrupted build left
        scratch.mkdir()
        build(scratch)
        scratch.rename(final)
        say(f"    done in {time.monotonic() - started:.0f} s -> {final}")
    return final


def _kafka_home(cache: Path) -> Path:
    # The POM's digest is part of the name, so editing its dependencies resolves them afresh.
    digest = hashlib.sha256(KAFKA_POM.read_bytes()).hexdigest()[:8]
    return cache / f"kafka-{KAFKA_VERSION}-{digest}"


def install_kafka(cache: Path) -> Path:
    return build_once(
        _kafka_home(cache),
        f"==> kafka: resolving Apache Kafka {KAFKA_VERSION} jars from Maven Central"
        " (first run, ~1 min)",
        partial(_resolve_kafka_jars, cache),
    )


def _copy_maven_dependencies(cache: Path, out: Path, *, pom: Path, version: str) -> Path:
    """Resolve a POM's runtime jars into ``out/libs``; ``version`` fills its ``<dir>.version``."""
    mvn = require("mvn", "Maven (apt-get install maven)")
    scratch_pom = out / "pom.xml"
    shutil.copyfile(pom, scratch_pom)  # Maven runs in the scratch dir, never in the clone
    mvn_args = [
        f"-Dmaven.repo.local={cache / 'm2'}",
        f"-D{pom.parent.name}.version={version}",
        f"-DoutputDirectory={out / 'libs'}",
    ]
    log = out / "build.log"
    run_step(
        [mvn, "-B", "-q", "-f", str(scratch_pom), *mvn_args, "dependency:copy-dependencies"],
        log=log,
        cwd=out,
    )
    scratch_pom.unlink()
    return log


def _resolve_kafka_jars(cache: Path, out: Path) -> None:
    java = require("java", "a JDK 17+ (apt-get install openjdk-17-jdk-headless)")
    log = _copy_maven_dependencies(cache, out, pom=KAFKA_POM, version=KAFKA_VERSION)
    say("    checking the classpath loads Kafka and its log4j binding")
    run_step(
        [java, "-cp", f"{out / 'libs'}/*", "kafka.tools.StorageTool", "random-uuid"],
        log=log,
        cwd=out,
    )


def install_oidc_provider(cache: Path) -> Path:
    digest = hashlib.sha256(OIDC_PROVIDER_POM.read_bytes()).hexdigest()[:8]
    return build_once(
        cache / f"mock-oauth2-server-{OIDC_PROVIDER_VERSION}-{digest}",
        f"==> oidc: resolving mock-oauth2-server {OIDC_PROVIDER_VERSION} jars from Maven Central"
        " (first run, ~1 min)",
        partial(_resolve_oidc_provider_jars, cache),
    )


def _resolve_oidc_provider_jars(cache: Path, out: Path) -> None:
    _copy_maven_dependencies(cache, out, pom=OIDC_PROVIDER_POM, version=OIDC_PROVIDER_VERSION)
    main_jar = out / "libs" / f"mock-oauth2-server-{OIDC_PROVIDER_VERSION}.jar"
    if not main_jar.exists():
        raise StackError(f"Maven resolved no {main_jar.name}; see {out / 'build.log'}")


def _go_env(cache: Path) -> dict[str, str]:
    """Go's module, build and toolchain caches, all inside the taskstream cache."""
    gopath = cache / "go"
    return {
        **os.environ,
        "GOPATH": str(gopath),
        "GOMODCACHE": str(gopath / "mod"),
        "GOCACHE": str(gopath / "build-cache"),
        # Writable module files, so the copy below can be edited and the cache deleted.
        "GOFLAGS": "-modcacherw -buildvcs=false",
    }


def install_ferretdb(cache: Path) -> Path:
    digest = hashlib.sha256(FERRETDB_PATCH.read_bytes()).hexdigest()[:8]
    home = build_once(
        cache / f"ferretdb-{FERRETDB_VERSION}-pushdown-{digest}",
        f"==> mongo: building FerretDB {FERRETDB_VERSION} from its Go module (first run, ~2 min)",
        partial(_build_ferretdb, cache),
    )
    return home / "ferretdb"


def _build_ferretdb(cache: Path, out: Path) -> None:
    go = require("go", "Go 1.24+ from https://go.dev/dl")
    env, log = _go_env(cache), out / "build.log"
    say(f"    go mod download {FERRETDB_MODULE}@{FERRETDB_VERSION}")
    module = f"{FERRETDB_MODULE}@{FERRETDB_VERSION}"
    info = json.loads(run_step([go, "mod", "download", "-json", module], log=log, cwd=out, env=env))
    src = out / "src"
    shutil.copytree(info["Dir"], src)
    # The module zip lacks this generated file, and without it the binary panics at start
    # (FerretDB issue #2982), so `go install` of the module cannot work.
    (src / "build" / "version" / "version.txt").write_text(f"{FERRETDB_VERSION}\n")
    git = require("git", "git (Debian package git)")
    run_step([git, "apply", "-p1", str(FERRETDB_PATCH)], log=log, cwd=src)
    say("    go build ./cmd/ferretdb (compiles ~300 packages)")
    binary = out / "ferretdb"
    run_step([go, "build", "-o", str(binary), "./cmd/ferretdb"], log=log, cwd=src, env=env)
    shutil.rmtree(src)
    _smoke_test_ferretdb(binary, out / "smoke")


def ferretdb_argv(binary: Path, home: Path, port: int) -> list[str]:
    return [
        str(binary),
        "--handler=sqlite",
        # WAL with synchronous=NORMAL: a commit is in the WAL (the OS's page cache) before the
        # client is answered, so killing FerretDB loses nothing; an OS crash can lose the last
        # commits since a checkpoint. That is MongoDB's own default (journal flushed every
        # 100 ms) and Redis's here (appendfsync everysec). SQLite's default, FULL, fsyncs the
        # WAL on every commit: two fsyncs per task write and ~0.05 core at 100 writes/s.
        f"--sqlite-url=file:{home / 'data'}/?_pragma=synchronous(NORMAL)",
        f"--listen-addr=127.0.0.1:{port}",
        f"--state-dir={home}",
        "--telemetry=disable",
        # No debug/metrics HTTP listener: its fixed default port would collide between stacks.
        "--debug-addr=-",
        # WARN logs every driver's endSessions (unsupported) with a full message dump.
        "--log-level=error",
    ]


def _smoke_test_ferretdb(binary: Path, home: Path) -> None:
    """Start the fresh binary on a spare port and do a real insert/find before accepting it."""
    port = free_port()
    (home / "data").mkdir(parents=True)
    say(f"    checking the binary starts and answers on 127.0.0.1:{port}")
    proc = spawn(
        ferretdb_argv(binary, home, port), log=home / "ferretdb.log", cwd=home, env=os.environ
    )
    try:
        check = partial(probe_mongo, f"mongodb://127.0.0.1:{port}/")
        asyncio.run(wait_until_ready(check, alive=lambda: proc.poll() is None, give_up_after=30))
    except Exception as exc:
        log = (home / "ferretdb.log").read_text()[-2000:]
        raise StackError(f"the built FerretDB did not answer ({exc!r}):\n{log}") from exc
    finally:
        terminate(proc.pid)
        wait_stopped(proc.pid, 10)
        proc.wait()
    shutil.rmtree(home)


def _apt_installed(package: str) -> bool:
    query = ["dpkg-query", "-W", "-f=${Status}", package]
    result = subprocess.run(query, capture_output=True, text=True, check=False)
    return result.stdout == "install ok installed"


def apt_install(label: str, packages: Sequence[str], cache: Path) -> None:
    missing = [package for package in packages if not _apt_installed(package)]
    if not missing:
        return
    say(f"==> {label}: apt-get install {' '.join(missing)} (first run)")
    started = time.monotonic()
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*sudo, "apt-get", "install", "-y", "--no-install-recommends", *missing]
    cache.mkdir(parents=True, exist_ok=True)
    log = cache / "apt.log"
    try:
        run_step(install, log=log, cwd=cache, env=env)
    except StackError:
        # Stale or missing package lists are the usual cause; refresh once, then retry.
        say("    install failed; running apt-get update and retrying")
        run_step([*sudo, "apt-get", "update"], log=log, cwd=cache, env=env)
        run_step(install, log=log, cwd=cache, env=env)
    say(f"    done in {time.monotonic() - started:.0f} s")


def install_redis(cache: Path) -> Path:
    if shutil.which("redis-server") is None:
        apt_install("redis", ["redis-server"], cache)
    return Path(require("redis-server", "Debian's redis-server package"))
