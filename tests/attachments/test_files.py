"""The pure file rules of the attachments service: names, SVG cleaning, image checks, types."""
import io
import re
import struct
import xml.etree.ElementTree as ET
import zlib

import pytest
from PIL import Image

from services.attachments import files
from services.attachments.files import (
    check_new_filename,
    content_type,
    is_valid_image,
    random_suffix,
    sanitise_filename,
    sanitise_svg,
    with_suffix,
)

SVG = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


# ------------------------------------------------------------------ filenames

@pytest.mark.parametrize("raw, expected", [
    ("r####at.mp4", "rat.mp4"),
    ("8&&&8.txt", "88.txt"),
    ("ABC!@#$%^&&&&&&&)-XYZ-(**&&&\\/QqQ.sqlite", "QqQ.sqlite"),
    ("a b.txt", "a_b.txt"),
    ("c:\\Users\\admin\\passwd.txt", "passwd.txt"),
    ("../../../win32.dll", "win32.dll"),
    ("/var/log/inventree.log", "inventree.log"),
    ("plain-name_1.2.pdf", "plain-name_1.2.pdf"),
    ("'q`u~o|t;e:s+=,<>?[]{}\".txt", "quotes.txt"),
    ("Ünïcödé файл.txt", "Ünïcödé_файл.txt"),
])
def test_sanitise_filename(raw, expected):
    assert sanitise_filename(raw) == expected


@pytest.mark.parametrize("raw", [
    "a\x00b.txt", "tab\there.txt", "new\nline.txt", "del\x7f.txt",
    "evil\u202etxt.exe", "line\u2028sep.txt", "para\u2029sep.txt", "zero\u200bwidth.txt",
])
def test_sanitise_filename_refuses_control_characters(raw):
    with pytest.raises(ValueError, match="Filename contains control characters"):
        sanitise_filename(raw)


@pytest.mark.parametrize("raw", ["", ".", "..", "dir/", "a/..", "c:\\tmp\\.", "!!!", "(*)", "###/.."])
def test_sanitise_filename_refuses_empty_results(raw):
    with pytest.raises(ValueError, match="Invalid filename"):
        sanitise_filename(raw)


def test_sanitise_filename_caps_length_keeping_extension():
    name = sanitise_filename("x" * 150 + ".pdf")
    assert len(name) == 100
    assert name == "x" * 96 + ".pdf"
    assert sanitise_filename("y" * 100) == "y" * 100
    # an absurd "extension" cannot be kept whole: the name is simply cut
    assert sanitise_filename("a." + "b" * 200) == "a." + "b" * 98


@pytest.mark.parametrize("raw, expected", [
    ("renamed.txt", "renamed.txt"),
    ("new name (2).pdf", "new_name_2.pdf"),
    ("r####at.mp4", "rat.mp4"),
    ("x" * 120 + ".png", "x" * 96 + ".png"),
])
def test_check_new_filename(raw, expected):
    assert check_new_filename(raw) == expected


@pytest.mark.parametrize("raw, message", [
    ("../evil.txt", "Filename must not contain path separators"),
    ("dir/file.txt", "Filename must not contain path separators"),
    ("c:\\file.txt", "Filename must not contain path separators"),
    ("", "Invalid filename"),
    (".", "Invalid filename"),
    ("..", "Invalid filename"),
    ("!@#", "Invalid filename"),
    ("bad\x00.txt", "Filename contains control characters"),
    ("bad\u202e.txt", "Filename contains control characters"),
])
def test_check_new_filename_refusals(raw, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        check_new_filename(raw)


def test_random_suffix():
    suffixes = {random_suffix() for _ in range(50)}
    assert len(suffixes) > 45
    assert all(re.fullmatch(r"[A-Za-z0-9]{7}", s) for s in suffixes)


@pytest.mark.parametrize("name, expected", [
    ("file.pdf", "file_Ab3xY9q.pdf"),
    ("README", "README_Ab3xY9q"),
    ("archive.tar.gz", "archive.tar_Ab3xY9q.gz"),
    (".bashrc", ".bashrc_Ab3xY9q"),
])
def test_with_suffix(name, expected):
    assert with_suffix(name, "Ab3xY9q") == expected


def test_with_suffix_stays_within_length():
    name = "s" * 96 + ".pdf"
    result = with_suffix(name, "Ab3xY9q")
    assert len(result) == 100
    assert result.endswith("_Ab3xY9q.pdf")
    assert len(with_suffix(name, "Ab3xY9q", max_length=None)) == 108


# ------------------------------------------------------------------------ SVG

ICON = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape"
     width="24" height="24" viewBox="0 0 24 24" version="1.1" inkscape:version="1.2">
  <title>Gear</title>
  <defs>
    <linearGradient id="grad" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="#fff"/><stop offset="1" stop-color="#000"/>
    </linearGradient>
  </defs>
  <g id="layer" fill="url(#grad)" stroke="#333" stroke-width="2" transform="translate(1 1)">
    <path d="M12 2 L22 22 L2 22 Z"/>
    <circle cx="12" cy="12" r="3" style="fill: red; opacity: 0.5"/>
    <use xlink:href="#layer" x="2"/>
    <text x="1" y="20" font-family="sans-serif" text-anchor="start">caf\xc3\xa9</text>
  </g>
</svg>"""


def parse(data: bytes) -> ET.Element:
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    return ET.fromstring(data)


def test_sanitise_svg_keeps_a_normal_icon():
    root = parse(sanitise_svg(ICON))
    assert root.tag == SVG + "svg"
    assert root.get("viewBox") == "0 0 24 24"
    assert root.get("width") == "24"
    assert "{http://www.inkscape.org/namespaces/inkscape}version" not in root.attrib
    assert root.find(SVG + "title").text == "Gear"
    group = root.find(SVG + "g")
    assert group.get("fill") == "url(#grad)"
    assert group.get("stroke-width") == "2"
    assert group.find(SVG + "path").get("d") == "M12 2 L22 22 L2 22 Z"
    assert group.find(SVG + "circle").get("style") == "fill: red; opacity: 0.5"
    assert group.find(SVG + "use").get(XLINK_HREF) == "#layer"
    assert group.find(SVG + "text").text == "café"
    assert len(root.findall(f".//{SVG}stop")) == 2


def test_sanitise_svg_is_idempotent():
    once = sanitise_svg(ICON)
    assert sanitise_svg(once) == once


def test_sanitise_svg_removes_scripts_and_handlers():
    data = b"""<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)" viewBox="0 0 10 10">
      <script type="text/javascript">alert(2)</script>
      <g onclick="alert(3)" onmouseover="alert(4)"><rect width="5" height="5" OnLoad="x()"/></g>
      <style>@import url(http://evil.example/x.css);</style>
    </svg>"""
    out = sanitise_svg(data)
    assert b"alert" not in out and b"script" not in out and b"import" not in out
    root = parse(out)
    assert root.get("viewBox") == "0 0 10 10"
    assert root.find(f"{SVG}g/{SVG}rect").attrib == {"width": "5", "height": "5"}


def test_sanitise_svg_removes_foreign_content():
    data = b"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:h="http://www.w3.org/1999/xhtml">
      <foreignObject width="100" height="100">
        <body xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></body>
      </foreignObject>
      <h:iframe src="http://evil.example/"/>
      <h:circle r="1"/>
      <circle r="2"/>
    </svg>"""
    out = sanitise_svg(data)
    assert b"foreignObject" not in out and b"iframe" not in out and b"alert" not in out
    circles = parse(out).findall(SVG + "circle")
    assert [c.get("r") for c in circles] == ["2"]


def test_sanitise_svg_keeps_text_around_removed_elements():
    data = b"""<svg xmlns="http://www.w3.org/2000/svg"><text>before <script>x</script>after</text></svg>"""
    assert parse(sanitise_svg(data)).find(SVG + "text").text == "before after"


def test_sanitise_svg_drops_dangerous_links():
    data = b"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">
      <a href="javascript:alert(1)"><rect width="1" height="1"/></a>
      <use id="js" href="javascript:alert(1)"/>
      <use id="ext" xlink:href="http://evil.example/sprite.svg#icon"/>
      <image id="img" xlink:href="https://evil.example/tracker.png" width="1" height="1"/>
      <use id="local" href="#shape"/>
    </svg>"""
    out = sanitise_svg(data)
    assert b"javascript" not in out and b"evil.example" not in out
    root = parse(out)
    assert root.find(SVG + "a") is None
    uses = {u.get("id"): u for u in root.iter(SVG + "use")}
    assert "href" not in uses["js"].attrib
    assert XLINK_HREF not in uses["ext"].attrib
    assert uses["local"].get("href") == "#shape"
    assert root.find(SVG + "image").attrib == {"id": "img", "width": "1", "height": "1"}


@pytest.mark.parametrize("style", [
    "fill: url(http://evil.example/x.svg#g)",
    "fill: url( 'https://evil.example/' )",
    "width: expression(alert(1))",
    "background: JavaScript:alert(1)",
    "fill: u\\72l(http://evil.example/)",
])
def test_sanitise_svg_drops_dangerous_styles(style):
    data = f'<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" style="{style}"/></svg>'.encode()
    rect = parse(sanitise_svg(data)).find(SVG + "rect")
    assert rect.attrib == {"width": "1"}


def test_sanitise_svg_drops_external_url_in_presentation_attributes():
    data = b"""<svg xmlns="http://www.w3.org/2000/svg">
      <rect fill="url(http://evil.example/g.svg#x)" mask="url(#m)" stroke="blue"/></svg>"""
    rect = parse(sanitise_svg(data)).find(SVG + "rect")
    assert rect.attrib == {"mask": "url(#m)", "stroke": "blue"}


@pytest.mark.parametrize("data", [
    b"""<?xml version="1.0"?>
<!DOCTYPE svg [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<svg xmlns="http://www.w3.org/2000/svg"><text>&lol3;</text></svg>""",
    b"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<svg xmlns="http://www.w3.org/2000/svg"><text>&xxe;</text></svg>""",
    b"",
    b"not xml at all",
    b"<svg xmlns='http://www.w3.org/2000/svg'><rect></svg>",
    b"<html><body/></html>",
    b"<x:svg xmlns:x='http://example.com/not-svg'/>",
])
def test_sanitise_svg_refuses_bad_documents(data):
    with pytest.raises(ValueError, match="Invalid SVG file"):
        sanitise_svg(data)


def test_sanitise_svg_accepts_svg_without_namespace():
    root = parse(sanitise_svg(b'<svg viewBox="0 0 1 1"><path d="M0 0"/></svg>'))
    assert root.tag == SVG + "svg"
    assert root.find(SVG + "path").get("d") == "M0 0"


# --------------------------------------------------------------------- images

def image_bytes(fmt: str, size=(4, 3)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


def test_is_valid_image_accepts_real_images():
    assert is_valid_image(io.BytesIO(image_bytes("PNG")))
    assert is_valid_image(io.BytesIO(image_bytes("JPEG")))
    assert is_valid_image(image_bytes("GIF"))  # bytes are accepted too


def test_is_valid_image_rewinds_the_stream():
    stream = io.BytesIO(image_bytes("PNG"))
    assert is_valid_image(stream)
    assert stream.tell() == 0


@pytest.mark.parametrize("data", [
    b"",
    b"just some text\n",
    b"\x89PNG\r\n\x1a\n" + b"garbage" * 20,
    image_bytes("PNG")[:40] + b"garbage" * 20,  # real header chunk, corrupted data
])
def test_is_valid_image_refuses_non_images(data):
    assert not is_valid_image(io.BytesIO(data))


def with_dimensions(png: bytes, width: int, height: int) -> bytes:
    """The PNG with its IHDR claiming other dimensions (CRC fixed up)."""
    ihdr = bytearray(png[12:29])  # chunk type + 13 data bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    crc = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return png[:12] + bytes(ihdr) + crc + png[33:]


def test_is_valid_image_refuses_decompression_bombs(monkeypatch):
    png = image_bytes("PNG", size=(1, 1))
    assert is_valid_image(io.BytesIO(png))
    assert not is_valid_image(io.BytesIO(with_dimensions(png, 100_000, 100_000)))
    # above our own limit, but below Pillow's hard error: still refused
    monkeypatch.setattr(files, "MAX_IMAGE_PIXELS", 50)
    assert not is_valid_image(io.BytesIO(image_bytes("PNG", size=(10, 10))))
    assert is_valid_image(io.BytesIO(image_bytes("PNG", size=(5, 5))))


# --------------------------------------------------------------- content type

@pytest.mark.parametrize("name, expected", [
    ("drawing.svg", "image/svg+xml"),
    ("DRAWING.SVG", "image/svg+xml"),
    ("photo.jpg", "image/jpeg"),
    ("photo.PNG", "image/png"),
    ("manual.pdf", "application/pdf"),
    ("notes.txt", "text/plain"),
    ("backup.tar.gz", "application/gzip"),
    ("data.unknownext", "application/octet-stream"),
    ("README", "application/octet-stream"),
])
def test_content_type(name, expected):
    assert content_type(name) == expected


def test_content_type_svg_fallback(monkeypatch):
    monkeypatch.setattr(files.mimetypes, "guess_type", lambda name, strict=True: (None, None))
    assert content_type("x.svg") == "image/svg+xml"
    assert content_type("x.pdf") == "application/octet-stream"
