"""Where a browser may land after social sign-in: local paths only."""

import pytest

from services.auth.app.oidc.redirects import safe_return_to


@pytest.mark.parametrize(
    "local", ["/", "/tasks", "/tasks/42?tab=notes#top", "/search?q=a%20b", "/settings/accounts"]
)
def test_local_paths_are_kept(local: str) -> None:
    assert safe_return_to(local) == local


@pytest.mark.parametrize(
    "foreign",
    [
        None,
        "",
        "https://evil.example",
        "http://evil.example/tasks",
        "//evil.example",
        "//evil.example/tasks",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/ /evil.example",
        "javascript:alert(1)",
        "tasks",
        "evil.example",
        "/" + "a" * 3000,
    ],
)
def test_anything_else_lands_on_the_home_page(foreign: str | None) -> None:
    assert safe_return_to(foreign) == "/"
