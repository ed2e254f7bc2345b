"""The CLI's one table renderer, and cell values made safe for where they end up.

IAM user names may begin with ``=``, ``+``, ``-`` or ``@`` (``=1+2`` is a legal name), and an
annotation or name could carry control characters. So:

* ``table`` strips control characters, so a cell cannot move the terminal's cursor or colour it;
* ``csv_text`` neutralises a cell a spreadsheet would run as a formula (OWASP "CSV Injection"): one
  starting with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'``; the csv module quotes CR/LF;
* ``markdown_cell`` escapes what Markdown or the HTML inside it would interpret;
* ``error_line`` makes an error message one line, and keeps a server's HTML page out of it (a proxy
  or a wrong endpoint answers with one; botocore puts it into the message whole).

    print(table(["USER", "RESULT"], [["bob", "NON_COMPLIANT"]]))
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Sequence

from console_mfa.credential_report import HTML_MARKERS

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Inside a table cell: the cell separator, emphasis, code, links and strike-through.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_HTML_START = re.compile("|".join(re.escape(marker) for marker in HTML_MARKERS), re.IGNORECASE)
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
# An error line stays readable; AWS's own messages are far shorter.
ERROR_LINE_LIMIT = 500


def printable(value: object) -> str:
    return _CONTROL.sub("", str(value))


def table(header: Sequence[str], rows: Sequence[Sequence[object]], *, last_column_free: bool = True) -> str:
    """Columns padded to their widest cell; the last one left unpadded (it holds long annotations)."""
    cells = [[printable(c) for c in row] for row in [header, *rows]]
    padded = len(header) - 1 if last_column_free else len(header)
    widths = [max(len(row[i]) for row in cells) for i in range(padded)]
    lines = []
    for row in cells:
        parts = [cell.ljust(widths[i]) if i < padded else cell for i, cell in enumerate(row)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def spreadsheet_safe(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_line(cells: Sequence[object]) -> str:
    # With "\r\n" as the terminator the csv module quotes any cell holding CR or LF; rows are
    # then joined with "\n" as the rest of the CLI's output is.
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue()[:-2]


def csv_text(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    return "\n".join([_csv_line(header)] + [_csv_line([spreadsheet_safe(cell) for cell in row]) for row in rows])


def markdown_cell(value: object) -> str:
    text = printable(str(value).replace("\r", " ").replace("\n", " "))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def error_line(message: str) -> str:
    """``message`` on one line: a server's HTML page replaced by its title, and at most 500 characters."""
    html_start = _HTML_START.search(message)
    if html_start:
        title = _HTML_TITLE.search(message, html_start.start())
        page = f"an HTML page titled {_one_line(title.group(1))[:100]!r}" if title else "an HTML page"
        message = (
            f"{message[: html_start.start()].rstrip()} {page}, not an answer from AWS "
            "(a proxy or a wrong endpoint: check AWS_ENDPOINT_URL and HTTPS_PROXY)"
        )
    line = _one_line(message)
    return line if len(line) <= ERROR_LINE_LIMIT else line[: ERROR_LINE_LIMIT - 1] + "…"


def _one_line(text: str) -> str:
    return " ".join(printable(part) for part in text.split())
