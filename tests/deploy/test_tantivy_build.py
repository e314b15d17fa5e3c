"""The patched tantivy-py: one version, named alike by pyproject, the local build and the image."""

import tomllib

from deploy.local._tantivy_build import TANTIVY_SDIST_CHECKSUM, TANTIVY_VERSION
from tests.deploy.compose_model import REPO


def test_pyproject_the_local_build_and_the_image_name_the_same_tantivy_version() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    dockerfile = (REPO / "Dockerfile").read_text()
    _, sdist = TANTIVY_SDIST_CHECKSUM.read_text().split()

    assert f"tantivy=={TANTIVY_VERSION}" in pyproject["project"]["dependencies"]
    assert sdist == f"tantivy-{TANTIVY_VERSION}.tar.gz"
    assert f"tantivy=={TANTIVY_VERSION}" in dockerfile
    assert f"tar xzf {sdist}" in dockerfile
