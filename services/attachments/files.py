"""File rules for attachments and notes images, as InvenTree 264 applies them.

Everything here is a pure function: no storage, no database. The callers turn
the ``ValueError``s raised here into 400 responses.
"""
import io
import mimetypes
import os
import re
import secrets
import string
import unicodedata
import warnings
import xml.etree.ElementTree as ET

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from PIL import Image

MAX_FILENAME_LENGTH = 100

# Characters InvenTree strips from uploaded names (the backslash is gone after
# step a already; it is listed for names that reach step c another way).
_REMOVED_CHARS = set("'\"`~#|!@$%^&*()[]{}<>?;:+=,\\")

# Cc: C0/C1 controls and DEL; Cf: format characters (U+200B, U+202E, U+FEFF...);
# Zl/Zp: line and paragraph separators; Cs: lone surrogates, which cannot be stored.
_CONTROL_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def _has_control_chars(name: str) -> bool:
    return any(unicodedata.category(ch) in _CONTROL_CATEGORIES for ch in name)


def _is_invalid(name: str) -> bool:
    return name in ("", ".", "..")


def _clean(name: str) -> str:
    """Rules b-d: spaces to underscores, strip the unwanted characters, basename."""
    name = name.replace(" ", "_")
    name = "".join(ch for ch in name if ch not in _REMOVED_CHARS)
    return os.path.basename(name)


def _cap_length(name: str, limit: int = MAX_FILENAME_LENGTH) -> str:
    """Shorten ``name`` to ``limit`` characters, keeping the extension if it fits."""
    if len(name) <= limit:
        return name
    stem, ext = os.path.splitext(name)
    if len(ext) >= limit:  # a pathological "extension": just cut the whole name
        return name[:limit]
    return stem[: limit - len(ext)] + ext


def sanitise_filename(name: str) -> str:
    """Return the name an uploaded file is stored under.

    Raises ValueError for names with control characters or that sanitise to nothing.
    """
    if _has_control_chars(name):
        raise ValueError("Filename contains control characters")
    # a. Django's multipart parser keeps only the last path component.
    name = re.split(r"[/\\]", name)[-1]
    name = _cap_length(_clean(name))
    if _is_invalid(name):
        raise ValueError("Invalid filename")
    return name


def check_new_filename(name: str) -> str:
    """Validate and sanitise a new filename given through the API (a rename)."""
    if _is_invalid(name):
        raise ValueError("Invalid filename")
    if "/" in name or "\\" in name:
        raise ValueError("Filename must not contain path separators")
    if _has_control_chars(name):
        raise ValueError("Filename contains control characters")
    name = _cap_length(_clean(name))
    if _is_invalid(name):
        raise ValueError("Invalid filename")
    return name


_SUFFIX_ALPHABET = string.ascii_letters + string.digits


def random_suffix() -> str:
    """Seven random characters from [A-Za-z0-9], as Django uses to resolve name clashes."""
    return "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(7))


def with_suffix(name: str, rand: str, max_length: int | None = MAX_FILENAME_LENGTH) -> str:
    """Insert ``_<rand>`` before the extension (``os.path.splitext``, like Django).

    When ``max_length`` is given and the result would exceed it, the stem is
    shortened (Django truncates ``file_root`` the same way).
    """
    stem, ext = os.path.splitext(name)
    tail = f"_{rand}{ext}"
    if max_length is not None and len(stem) + len(tail) > max_length:
        stem = stem[: max(max_length - len(tail), 0)]
    return stem + tail


# --------------------------------------------------------------------------- SVG

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"

_FILTER_PRIMITIVES = {
    "feBlend", "feColorMatrix", "feComponentTransfer", "feComposite", "feConvolveMatrix",
    "feDiffuseLighting", "feDisplacementMap", "feDistantLight", "feDropShadow", "feFlood",
    "feFuncA", "feFuncB", "feFuncG", "feFuncR", "feGaussianBlur", "feMerge", "feMergeNode",
    "feMorphology", "feOffset", "fePointLight", "feSpecularLighting", "feSpotLight",
    "feTile", "feTurbulence",
}

ALLOWED_ELEMENTS = {
    "svg", "g", "defs", "symbol", "use", "path", "rect", "circle", "ellipse", "line",
    "polyline", "polygon", "text", "tspan", "textPath", "title", "desc",
    "linearGradient", "radialGradient", "stop", "clipPath", "mask", "pattern", "marker",
    "image", "filter",
} | _FILTER_PRIMITIVES

ALLOWED_ATTRIBUTES = {
    # structure and geometry
    "id", "class", "style", "width", "height", "x", "y", "x1", "y1", "x2", "y2",
    "cx", "cy", "r", "rx", "ry", "fx", "fy", "fr", "dx", "dy", "d", "points",
    "pathLength", "transform", "viewBox", "preserveAspectRatio", "version", "baseProfile",
    # painting
    "fill", "fill-opacity", "fill-rule", "stroke", "opacity", "color", "display",
    "visibility", "overflow", "clip-path", "clip-rule", "mask", "filter",
    "marker-start", "marker-mid", "marker-end", "shape-rendering", "vector-effect",
    "image-rendering", "color-interpolation", "color-interpolation-filters",
    # text
    "text-anchor", "dominant-baseline", "alignment-baseline", "baseline-shift",
    "letter-spacing", "word-spacing", "text-decoration", "writing-mode", "rotate",
    "textLength", "lengthAdjust", "startOffset", "method", "spacing", "side",
    # gradients, patterns, markers, clip paths, masks
    "offset", "stop-color", "stop-opacity", "gradientUnits", "gradientTransform",
    "spreadMethod", "patternUnits", "patternContentUnits", "patternTransform",
    "markerWidth", "markerHeight", "markerUnits", "refX", "refY", "orient",
    "clipPathUnits", "maskUnits", "maskContentUnits",
    # filters
    "filterUnits", "primitiveUnits", "in", "in2", "result", "stdDeviation", "mode",
    "operator", "k1", "k2", "k3", "k4", "type", "values", "tableValues", "slope",
    "intercept", "amplitude", "exponent", "flood-color", "flood-opacity",
    "lighting-color", "radius", "scale", "xChannelSelector", "yChannelSelector",
    "baseFrequency", "numOctaves", "seed", "stitchTiles", "order", "kernelMatrix",
    "divisor", "bias", "targetX", "targetY", "edgeMode", "preserveAlpha",
    "surfaceScale", "specularConstant", "specularExponent", "diffuseConstant",
    "kernelUnitLength", "azimuth", "elevation", "pointsAtX", "pointsAtY", "pointsAtZ",
    "limitingConeAngle", "z",
}
_ALLOWED_ATTRIBUTE_PREFIXES = ("stroke-", "font-")

_URL_TARGET = re.compile(r"url\(\s*['\"]?([^'\")]*)")
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_DANGEROUS_VALUES = ("javascript:", "vbscript:", "expression(", "@import", "-moz-binding", "behavior:")


def _split_name(name: str) -> tuple[str, str]:
    """``{ns}local`` -> (ns, local); unqualified names have the namespace ''."""
    if name.startswith("{"):
        ns, local = name[1:].split("}", 1)
        return ns, local
    return "", name


def _safe_value(attr: str, value: str) -> bool:
    """False for values that could run script or fetch something from elsewhere."""
    squashed = "".join(value.split()).lower()
    if attr == "style":
        if "\\" in squashed:  # CSS escapes only serve to hide things here
            return False
        squashed = _CSS_COMMENT.sub("", squashed)
    if any(bad in squashed for bad in _DANGEROUS_VALUES):
        return False
    return all(target.startswith("#") for target in _URL_TARGET.findall(squashed))


def _clean_attributes(element: ET.Element) -> dict[str, str]:
    """The kept attributes of ``element``, under their serialised (prefixed) names."""
    kept = {}
    for qname, value in element.attrib.items():
        ns, local = _split_name(qname)
        if local == "href" and ns in (XLINK_NS, ""):
            if value.startswith("#"):
                kept["xlink:href" if ns else "href"] = value
        elif ns == XML_NS and local in ("space", "lang"):
            kept[f"xml:{local}"] = value
        elif ns == "" and (local in ALLOWED_ATTRIBUTES or local.startswith(_ALLOWED_ATTRIBUTE_PREFIXES)):
            if not local.lower().startswith("on") and _safe_value(local, value):
                kept[local] = value
    return kept


def _allowed_element(element: ET.Element) -> bool:
    if not isinstance(element.tag, str):  # comments and processing instructions
        return False
    ns, local = _split_name(element.tag)
    return ns in (SVG_NS, "") and local in ALLOWED_ELEMENTS


def _copy_clean(source: ET.Element) -> ET.Element:
    """A copy of an allowed element with only the allowed attributes and children."""
    _, local = _split_name(source.tag)
    copy = ET.Element(local, _clean_attributes(source))
    copy.text = source.text
    copy.tail = source.tail
    for child in source:
        if _allowed_element(child):
            copy.append(_copy_clean(child))
        elif child.tail:  # keep the text that followed the dropped element
            if len(copy):
                copy[-1].tail = (copy[-1].tail or "") + child.tail
            else:
                copy.text = (copy.text or "") + child.tail
    return copy


def sanitise_svg(data: bytes) -> bytes:
    """Return a cleaned copy of an SVG document, or raise ValueError("Invalid SVG file").

    DTD entities and external references are refused; only allow-listed SVG
    elements and attributes survive (dropped elements lose their children too).
    Unqualified elements are read as SVG. The output is UTF-8 with an XML declaration.
    """
    try:
        root = SafeET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
        if _split_name(root.tag) not in ((SVG_NS, "svg"), ("", "svg")):
            raise ValueError("root element is not <svg>")
        clean = _copy_clean(root)
        clean.tail = None
        clean.set("xmlns", SVG_NS)
        if any("xlink:href" in element.attrib for element in clean.iter()):
            clean.set("xmlns:xlink", XLINK_NS)
        return ET.tostring(clean, encoding="utf-8", xml_declaration=True)
    except (ET.ParseError, DefusedXmlException, ValueError, TypeError, RecursionError) as exc:
        raise ValueError("Invalid SVG file") from exc


# ------------------------------------------------------------------------ images

MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485


def is_valid_image(stream) -> bool:
    """True when Pillow recognises ``stream`` (a binary file-like or bytes) as an intact image.

    Decompression bombs (more than MAX_IMAGE_PIXELS pixels) count as invalid.
    A seekable stream is returned to its starting position.
    """
    if isinstance(stream, (bytes, bytearray, memoryview)):
        stream = io.BytesIO(stream)
    try:
        start = stream.tell()
    except (AttributeError, OSError):
        start = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream) as image:
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    return False
                image.verify()
        return True
    except Exception:  # Pillow's plugins raise a variety of errors for bad data
        return False
    finally:
        if start is not None:
            stream.seek(start)


# ------------------------------------------------------------------ content type

# Django's FileResponse: a compressed file is served as the compression format.
_ENCODED_TYPES = {
    "br": "application/x-brotli",
    "bzip2": "application/x-bzip",
    "compress": "application/x-compress",
    "gzip": "application/gzip",
    "xz": "application/x-xz",
}


def content_type(name: str) -> str:
    """The Content-Type to serve a file called ``name`` with."""
    guessed, encoding = mimetypes.guess_type(name, strict=False)
    if encoding:
        return _ENCODED_TYPES.get(encoding, "application/octet-stream")
    if guessed:
        return guessed
    if name.lower().endswith(".svg"):
        return "image/svg+xml"
    return "application/octet-stream"


def is_svg(name: str) -> bool:
    """True when a file called ``name`` is served as an SVG (so it must be sanitised)."""
    return content_type(name) == "image/svg+xml"
