"""Text files people write or export (feeds, programs): UTF-8, with or without a byte-order mark.

Excel's "CSV UTF-8" and Windows Notepad start a file with a byte-order mark,
which is no part of the text; Excel's plain "CSV" and older editors write
Latin-1 or Windows-1252, which the reader is told where and how to fix.
"""

from __future__ import annotations

from pathlib import Path

ENCODING = "utf-8-sig"  # UTF-8, dropping a byte-order mark at the start


def not_utf8(path: Path) -> str:
    """Where ``path`` is not UTF-8, as ``line: what is wrong: what to do`` (``path`` failed to decode)."""
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                byte = raw[exc.start]
                column = len(raw[:exc.start].decode("utf-8")) + 1
                return (f"{number}: not UTF-8 text (byte 0x{byte:02x} at column {column}, "
                        f"{bytes([byte]).decode('cp1252', errors='replace')!r} in Windows-1252 or Latin-1): "
                        "save the file as UTF-8")
    return "1: not UTF-8 text: save the file as UTF-8"
