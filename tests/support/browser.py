"""Open a local page in headless Chromium (Debian's, through Playwright), offline: every request
that is not for a local file is refused and recorded, and console errors and page errors are
collected.

    python -m tests.support.browser PAGE.html SHOT.png  # a full-page screenshot (docs/report.png)
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
INSTALL = "apt-get install chromium"


def chromium() -> str:
    """The browser's path; a test that needs it fails (never skips) when it is missing."""
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not path:
        import pytest

        pytest.fail(f"Chromium is not installed: `{INSTALL}` (as root) installs it")
    return path


@dataclass
class Opened:
    """A page loaded in the browser, and what went wrong while it loaded."""

    page: Any  # playwright.sync_api.Page
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # requests for anything but a local file

    def problems(self) -> list[str]:
        return ([f"console: {m}" for m in self.console_errors]
                + [f"page error: {m}" for m in self.page_errors]
                + [f"network request: {u}" for u in self.refused])


@contextmanager
def open_page(path: Path, *, width: int = 1280, height: int = 900,
              ready: str = "body[data-rendered=yes]", timeout_ms: int = 60_000) -> Iterator[Opened]:
    """``path`` loaded, and ``ready`` (a CSS selector) present: the plots are drawn."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            opened = Opened(page)
            page.on("console", lambda m: opened.console_errors.append(m.text)
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: opened.page_errors.append(str(e)))

            def route(request_route: Any) -> None:
                url = request_route.request.url
                if url.startswith(("file:", "data:", "blob:", "about:")):
                    request_route.continue_()
                else:
                    opened.refused.append(url)
                    request_route.abort()

            page.route("**/*", route)
            page.goto(Path(path).resolve().as_uri(), wait_until="load", timeout=timeout_ms)
            if ready:
                page.wait_for_selector(ready, state="attached", timeout=timeout_ms)
            yield opened
        finally:
            browser.close()


def screenshot(page_path: Path, png: Path, width: int = 1280) -> None:
    with open_page(page_path, width=width) as opened:
        if opened.problems():
            raise SystemExit("\n".join(opened.problems()))
        opened.page.screenshot(path=str(png), full_page=True)


if __name__ == "__main__":
    screenshot(Path(sys.argv[1]), Path(sys.argv[2]))
