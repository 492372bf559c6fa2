"""Hostile XLSX workbooks, built in the tests: a shared string table that zips to almost
nothing (openpyxl loads the whole table before the first cell is read)."""
import functools
import io
import zipfile

from openpyxl import Workbook

SST = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


@functools.lru_cache(maxsize=4)  # the 300 MB one takes two seconds to deflate
def shared_strings_xlsx(count: int, text: bytes = b"", repeat: int = 1) -> bytes:
    """A valid workbook (header `code`, one row `A`, inline strings) that also declares a
    shared string table of `count` strings, each `text` * `repeat`. Built once per process
    for the same arguments (bytes, immutable)."""
    book = Workbook()
    book.active.append(["code"])
    book.active.append(["A"])
    source = io.BytesIO()
    book.save(source)
    out = io.BytesIO()
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", f'<Override PartName="/xl/sharedStrings.xml" '
                                                 f'ContentType="{SST}" /></Types>'.encode())
            zout.writestr(item.filename, data)
        with zout.open("xl/sharedStrings.xml", "w") as part:
            part.write(f'<sst xmlns="{_MAIN}">'.encode())
            if repeat == 1:
                for start in range(0, count, 100_000):
                    part.write((b"<si><t>" + text + b"</t></si>") * min(100_000, count - start))
            else:
                for _ in range(count):
                    part.write(b"<si><t>")
                    for _ in range(repeat):
                        part.write(text)
                    part.write(b"</t></si>")
            part.write(b"</sst>")
    return out.getvalue()
