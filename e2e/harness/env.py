"""What the e2e run is pointed at: the binary under test, its sanitizer, and how much slower
than a plain build it runs. Computed once at import; read-only afterwards (thread-safe)."""
import os
import pathlib

E2E_DIR = pathlib.Path(__file__).resolve().parent.parent
REPO_DIR = E2E_DIR.parent


def _binary() -> str:
    return os.environ.get("ARUS_BIN") or str(REPO_DIR / "build" / "arus-proxy")


def _plugin_dir() -> str:
    return os.environ.get("ARUS_PLUGIN_DIR") or str(REPO_DIR / "c_plugins")


def _detect_sanitizer(path: str) -> str:
    """'thread', 'address', 'undefined' or '' from the runtime symbols linked into the binary."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return ""
    if b"__tsan_init" in data:
        return "thread"
    if b"__asan_init" in data:
        return "address"
    if b"__ubsan_handle_" in data:
        return "undefined"
    return ""


BIN = _binary()
PLUGIN_DIR = _plugin_dir()
SANITIZER = _detect_sanitizer(BIN)

# ARUS_SLOW=1 forces the slow profile, ARUS_SLOW=0 forbids it; unset means "detect".
_slow_env = os.environ.get("ARUS_SLOW", "")
if _slow_env == "0":
    SLOW = False
elif _slow_env:
    SLOW = True
else:
    SLOW = bool(SANITIZER)

# Deadlines are multiplied by this; sizes are reduced separately (see pick()).
TIME_SCALE = {"thread": 6.0, "address": 3.0, "undefined": 2.0}.get(SANITIZER, 4.0 if SLOW else 1.0)
if not SLOW:
    TIME_SCALE = 1.0


def t(seconds: float) -> float:
    """A deadline of `seconds` on a plain build, scaled for sanitizer builds."""
    return seconds * TIME_SCALE


def pick(normal, slow):
    """A size (connection count, payload bytes) for the current profile."""
    return slow if SLOW else normal


def describe() -> str:
    return (f"binary={BIN} sanitizer={SANITIZER or 'none'} slow={int(SLOW)} "
            f"time_scale={TIME_SCALE:g}")
