"""Write the bundled zoos' score tables into README.md (between the zoos markers).

Run: ``python docs/zoo_tables.py`` after a ``train-zoo`` run has added models; the test
suite checks that the README's tables match the manifests.
"""

from __future__ import annotations

import re
from pathlib import Path

from modelcentrality.reference_models.zoo_job import manifest_table

ROOT = Path(__file__).resolve().parent.parent
ZOOS = ("infogan_cr", "factorvae")
BLOCK = re.compile(r"(<!-- zoos:begin -->\n)(.*?)(\n<!-- zoos:end -->)", re.S)


def zoo_tables() -> str:
    """The tables of every bundled zoo that has a manifest, one after another."""
    return "\n\n".join(
        manifest_table(ROOT / "zoos" / zoo)
        for zoo in ZOOS
        if (ROOT / "zoos" / zoo / "manifest.json").is_file()
    )


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    if not BLOCK.search(text):
        raise SystemExit("README.md has no <!-- zoos:begin --> ... <!-- zoos:end --> block")
    readme.write_text(BLOCK.sub(lambda m: m.group(1) + zoo_tables() + m.group(3), text))
    print("updated README.md")


if __name__ == "__main__":
    main()
