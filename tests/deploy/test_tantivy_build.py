"""Our tantivy-py build: one version that names the patches, pinned alike everywhere."""

import importlib.util
import re
import sys
import tomllib
from types import ModuleType

import pytest

from services.search.app.index import TANTIVY_BUILD
from tests.deploy.compose_model import REPO

HOME = REPO / "third_party" / "tantivy-py"


def load_build_script() -> ModuleType:
    # A script in a folder named like the upstream project, so not an importable package.
    spec = importlib.util.spec_from_file_location("tantivy_py_build", HOME / "build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


build = load_build_script()


def test_pyproject_the_build_and_the_search_service_name_the_same_version() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())

    assert f"tantivy=={build.VERSION}" in pyproject["project"]["dependencies"]
    assert build.VERSION == TANTIVY_BUILD
    assert re.fullmatch(r"0\.27\.0\+taskstream\.[1-9][0-9]*", build.VERSION)


def test_a_changed_patch_or_profile_comes_with_a_new_version() -> None:
    assert build.inputs_sha256() == build.INPUTS_SHA256, (
        f"a patch or profile.toml changed: bump the build number in VERSION ({build.VERSION})"
        f" and set INPUTS_SHA256 = {build.inputs_sha256()!r} in third_party/tantivy-py/build.py"
    )


def test_every_patch_in_the_folder_is_applied_and_every_applied_one_is_there() -> None:
    applied = [*build.BINDING_PATCHES]
    for _version, patches in build.CRATE_PATCHES.values():
        applied.extend(patches)

    assert sorted(applied) == sorted(path.stem for path in (HOME / "patches").glob("*.patch"))


def test_every_method_a_patch_adds_to_the_binding_is_in_its_typed_stub() -> None:
    added = set()
    for name in build.BINDING_PATCHES:
        patch = (HOME / "patches" / f"{name}.patch").read_text()
        rust, _, stub = patch.partition("+++ b/tantivy/tantivy.pyi")
        methods = set(re.findall(r"(?m)^\+\s+fn (\w+)\(", rust))

        assert all(re.search(rf"(?m)^\+\s+def {method}\(", stub) for method in methods), name
        added |= methods
    assert {"set_log_merge_policy", "commit"} <= added


def test_a_source_without_the_line_the_build_rewrites_is_refused() -> None:
    manifest = '[package]\nname = "tantivy"\n[lib]\nname = "tantivy"\n'

    renamed = build.replace_once(manifest, 'name = "tantivy"', "tantivy-py")

    assert renamed == '[package]\nname = "tantivy-py"\n[lib]\nname = "tantivy"\n'
    with pytest.raises(build.BuildError, match="not in the sdist"):
        build.replace_once(manifest, 'version = "0.27.0"', "0.27.0+taskstream.1")


def test_the_image_builds_the_wheel_with_the_same_script_and_installs_it_by_the_pin() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    stage = dockerfile[dockerfile.index("AS tantivy") : dockerfile.index("AS build")]

    assert "COPY third_party/tantivy-py/ ./" in stage
    assert "build.py --wheel-dir /wheels" in stage
    assert "COPY --from=tantivy /wheels /wheels" in dockerfile
    assert "pip install --find-links /wheels --requirement requirements.txt" in dockerfile
    assert "!third_party/tantivy-py/" in (REPO / ".dockerignore").read_text()
