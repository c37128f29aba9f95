"""Write the bundled zoos' score tables into docs/reference_zoos.md (between the markers).

Run: ``python docs/zoo_tables.py`` after a ``train-zoo`` run has added models; the test
suite checks that the page's tables match the manifests.
"""

from __future__ import annotations

import re
from pathlib import Path

from modelcentrality.reference_models.zoo_job import manifest_table

ROOT = Path(__file__).resolve().parent.parent
ZOOS = ("infogan_cr", "factorvae")
PAGE = "docs/reference_zoos.md"
BLOCK = re.compile(r"(<!-- zoos:begin -->\n)(.*?)(\n<!-- zoos:end -->)", re.S)


def zoo_tables() -> str:
    """The tables of every bundled zoo that has a manifest, one after another."""
    return "\n\n".join(
        manifest_table(ROOT / "zoos" / zoo)
        for zoo in ZOOS
        if (ROOT / "zoos" / zoo / "manifest.json").is_file()
    )


def main() -> None:
    page = ROOT / PAGE
    text = page.read_text()
    if not BLOCK.search(text):
        raise SystemExit(f"{PAGE} has no <!-- zoos:begin --> ... <!-- zoos:end --> block")
    page.write_text(BLOCK.sub(lambda m: m.group(1) + zoo_tables() + m.group(3), text))
    print(f"updated {PAGE}")


if __name__ == "__main__":
    main()
