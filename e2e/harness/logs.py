"""Parsing of the proxy's stderr lines: `TIMESTAMP LEVEL msg key=value key="v a l" ...`.
Pure functions, no state."""
import re
from dataclasses import dataclass, field

_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (error|warn|info|debug) (\S+)(.*)$")
_PAIR = re.compile(r'\s*([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)')

SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "runtime error:",
    "WARNING: ThreadSanitizer",
    "ERROR: LeakSanitizer",
)


@dataclass
class LogLine:
    stamp: str
    level: str
    msg: str
    fields: dict = field(default_factory=dict)
    raw: str = ""

    def matches(self, **want) -> bool:
        return all(str(self.fields.get(k)) == str(v) for k, v in want.items())


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t"}


def _unescape(m) -> str:
    code = m.group(1)
    if code.startswith("x"):
        return chr(int(code[1:], 16))  # a raw byte, as its Latin-1 character
    return _ESCAPES.get(code, code)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return re.sub(r"\\(x[0-9a-f]{2}|.)", _unescape, value[1:-1])
    return value


def parse(line: str):
    """A LogLine, or None for text that is not a log line (sanitizer output, usage text)."""
    m = _LINE.match(line.rstrip("\n"))
    if not m:
        return None
    fields = {k: _unquote(v) for k, v in _PAIR.findall(m.group(4))}
    return LogLine(m.group(1), m.group(2), m.group(3), fields, line.rstrip("\n"))


def sanitizer_report(text: str):
    """The first sanitizer marker found in `text` with some context, or None."""
    for marker in SANITIZER_MARKERS:
        i = text.find(marker)
        if i >= 0:
            return text[max(0, i - 200): i + 3000]
    return None


ACCESS_KEYS = ("route", "client", "backend", "client_to_backend", "backend_to_client",
               "duration_ms", "close")
CLOSE_REASONS = {"client_eof", "backend_eof", "client_reset", "backend_reset", "idle_timeout",
                 "connect_failed", "limit", "filter", "shutdown", "error"}
