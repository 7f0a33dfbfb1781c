"""Render pages of the built site in headless Chromium, offline, and check them.

Usage: python .ci/rendered_pages.py HTML_DIR SCREENSHOT_DIR

For the user guide's construction page, an API page and a gallery example:
takes a screenshot, and reads the page as Chromium leaves it after its
scripts ran (MathJax included), with every network access of Chromium's own
turned off. Fails when the construction page's mathematics did not render
(no MathJax output, or TeX delimiters left in the text).
"""

import re
import subprocess
import sys
from pathlib import Path

PAGES = {
    "construction": "construction.html",
    "api": "generated/sklearn_kmt.TransformerKMeans.html",
    "example": "auto_examples/plot_token_routing.html",
}
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=15000",
]


def chromium(profile, *arguments):
    command = ["chromium", *FLAGS, f"--user-data-dir={profile}", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120).stdout


def visible_text(dom):
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return re.sub(r"<[^>]+>", " ", dom)


def main(html_dir, screenshot_dir):
    html_dir, screenshot_dir = Path(html_dir).resolve(), Path(screenshot_dir)
    screenshot_dir.mkdir(parents=True, exist_ok=True)
    profile = screenshot_dir / "profile"
    failures = []
    for name, page in PAGES.items():
        url = (html_dir / page).as_uri()
        shot = screenshot_dir / f"{name}.png"
        chromium(profile, "--window-size=1280,1600", f"--screenshot={shot}", url)
        dom = chromium(profile, "--dump-dom", url)
        rendered = dom.count("<mjx-container")
        raw = sum(visible_text(dom).count(delimiter) for delimiter in ("\\[", "\\("))
        print(
            f"{name}: {shot} ({shot.stat().st_size if shot.exists() else 0} bytes), "
            f"{rendered} rendered formulas, {raw} raw TeX delimiters"
        )
        if not shot.exists():
            failures.append(f"{name}: no screenshot")
        if name == "construction" and (rendered == 0 or raw):
            failures.append(f"{name}: the mathematics did not render")
    if failures:
        sys.exit("; ".join(failures))


if __name__ == "__main__":
    main(*sys.argv[1:])
