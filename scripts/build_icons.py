#!/usr/bin/env python3
"""Build the Tabler icon pack served by ``GET /api/icons/``.

Source: npm package ``@tabler/icons`` version **3.11.0**
(https://registry.npmjs.org/@tabler/icons/3.11.0), file ``package/icons.json``.

Why this package/version
------------------------
InvenTree 264 (commit 69bc5808) loads the core icon pack from
``src/backend/InvenTree/InvenTree/static/tabler-icons/icons.json``.  That file is
produced by InvenTree's ``src/backend/InvenTree/script/update_icons.py``, which runs
``npm install @tabler/icons @tabler/icons-webfont`` (unpinned, i.e. "latest" at
the time it was run), reads ``node_modules/@tabler/icons/icons.json`` and, for
every entry in file order, writes::

    res[icon['name']] = {
        'name': icon['name'],
        'category': icon['category'],
        'tags': icon['tags'],
        'variants': {style: data['unicode'] for style, data in icon['styles'].items()},
    }

dumped with ``separators=(',', ':')``.  Since the version is not pinned, it was
identified by replaying that transformation over candidate releases:

    version  icons  filled  categories  bytes
    3.11.0   4744   706     43          642441   <- identical to InvenTree's file
    3.12.0   4761   706     43          644101
    3.13.0   4779   706     43          646919
    3.14.0   4850   706     43          654453

Only 3.11.0 reproduces InvenTree's file (4,744 icons, 706 with ``filled``, 43
distinct categories counting ``""``, and exactly 642,441 bytes; sampled content
at several offsets matches byte for byte).  The upstream tags come from YAML, so
``number-0-small`` has a ``null`` tag and ``number-23-small`` .. ``number-29-small``
have integer tags (23..29); these quirks are kept as is, like InvenTree does.

The ``@tabler/icons-webfont`` package only supplies the font files, which are
referenced by URL in ``fonts`` and not needed to build this data.

Output: ``services/system/data/tabler_icons.json.gz`` -- gzip (mtime=0, so the
bytes are reproducible) of the compact JSON of the single pack dict with keys
``name, prefix, fonts, icons`` in that order, exactly as InvenTree's ``IconPack``
is serialised.

Usage: ``python scripts/build_icons.py`` (needs network access to
registry.npmjs.org; standard library only).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

PACKAGE = "@tabler/icons"
VERSION = "3.11.0"
REGISTRY = "https://registry.npmjs.org"
MEMBER = "package/icons.json"

# sha256 of the compact JSON of the ``icons`` mapping alone (the equivalent of
# InvenTree's icons.json, 642,441 bytes) as built from 3.11.0; a mismatch means
# the registry served different data and only triggers a warning.
EXPECTED_ICONS_SHA256 = "5a10c66fe1d533eaecf43390f6acb288e19cff6427458a7e295263d56f1f0015"

OUTPUT = Path(__file__).resolve().parent.parent / "services" / "system" / "data" / "tabler_icons.json.gz"

PACK_NAME = "Tabler Icons"
PACK_PREFIX = "ti"
FONTS = {
    "woff2": "/static/tabler-icons/tabler-icons.woff2",
    "woff": "/static/tabler-icons/tabler-icons.woff",
    "truetype": "/static/tabler-icons/tabler-icons.ttf",
}


def _fetch(url: str) -> bytes:
    req = urllib.request.Request(url, headers={"User-Agent": "inventree-general-build-icons"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return resp.read()


def download_icons_json() -> dict:
    """Fetch the package tarball and return the parsed ``icons.json`` (order kept)."""
    meta = json.loads(_fetch(f"{REGISTRY}/{PACKAGE}/{VERSION}"))
    dist = meta["dist"]
    tarball = _fetch(dist["tarball"])

    integrity = dist.get("integrity", "")
    if integrity.startswith("sha512-"):
        digest = base64.b64encode(hashlib.sha512(tarball).digest()).decode()
        if digest != integrity[len("sha512-"):]:
            raise SystemExit(f"integrity mismatch for {dist['tarball']}")
    elif dist.get("shasum"):
        if hashlib.sha1(tarball).hexdigest() != dist["shasum"]:
            raise SystemExit(f"shasum mismatch for {dist['tarball']}")

    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tf:
        fh = tf.extractfile(tf.getmember(MEMBER))
        if fh is None:
            raise SystemExit(f"{MEMBER} missing from tarball")
        return json.loads(fh.read().decode("utf-8"))


def build_icons(source: dict) -> dict:
    """Replicate InvenTree's update_tabler_icons transformation."""
    res: dict = {}
    for icon in source.values():
        res[icon["name"]] = {
            "name": icon["name"],
            "category": icon["category"],
            "tags": icon["tags"],
            "variants": {style: data["unicode"] for style, data in icon["styles"].items()},
        }
    return res


def main() -> int:
    icons = build_icons(download_icons_json())

    icons_json = json.dumps(icons, separators=(",", ":")).encode("utf-8")
    sha = hashlib.sha256(icons_json).hexdigest()
    if sha != EXPECTED_ICONS_SHA256:
        print(f"warning: icons sha256 {sha} differs from expected {EXPECTED_ICONS_SHA256}", file=sys.stderr)

    pack = {"name": PACK_NAME, "prefix": PACK_PREFIX, "fonts": FONTS, "icons": icons}
    payload = json.dumps(pack, separators=(",", ":")).encode("utf-8")

    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(payload)
    OUTPUT.write_bytes(buf.getvalue())

    filled = sum(1 for i in icons.values() if "filled" in i["variants"])
    categories = len({i["category"] for i in icons.values()})
    print(f"{PACKAGE}@{VERSION}: icons={len(icons)} filled={filled} categories={categories}")
    print(f"icons json: {len(icons_json)} bytes, sha256 {sha}")
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes, uncompressed {len(payload)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
