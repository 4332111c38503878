"""Turn `heads validate` output (``file:line: where: message``) into GitHub Actions annotations.

    heads validate 2>&1 | python .github/annotate.py

Each problem becomes ``::error file=F,line=L::message`` (``::warning`` for warnings), which GitHub shows
on that line of the pull request's diff. Other lines pass through. Exits 1 if any error was seen, so the
step fails like `heads validate` itself.
"""

from __future__ import annotations

import re
import sys

PROBLEM = re.compile(r"^(?P<file>[^:\s][^:]*?)(?::(?P<line>\d+))?: (?P<rest>.*)$")


def escape(text: str) -> str:
    """Workflow-command escaping for the message part."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape(text).replace(":", "%3A").replace(",", "%2C")


def annotate(line: str) -> tuple[str, bool]:
    m = PROBLEM.match(line.rstrip("\n"))
    if not m or not re.search(r"\.(ya?ml|bib)$", m.group("file")):
        return line.rstrip("\n"), False
    rest = m.group("rest")
    level = "warning" if " warning: " in f" {rest}" else "error"
    where = f"file={escape_property(m.group('file'))}"
    if m.group("line"):
        where += f",line={m.group('line')}"
    return f"::{level} {where}::{escape(rest)}", level == "error"


def main() -> int:
    failed = False
    for line in sys.stdin:
        out, is_error = annotate(line)
        failed |= is_error
        print(out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
