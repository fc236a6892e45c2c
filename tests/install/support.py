"""Shared helpers of the install and man page tests: where the repository and binary are,
running commands with a deadline, and turning man's output into plain text."""
import os
import re
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("ARUS_BIN") or os.path.join(REPO, "build", "arus-proxy")
TIMEOUT_S = 600  # a `make install` that has to build first is slow on 2 cores

_OVERSTRIKE = re.compile(r".\x08")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run(args, cwd=None, env=None, timeout=TIMEOUT_S, input_text=None):
    """(status, stdout, stderr) of a command that must finish within `timeout`."""
    p = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=timeout, input=input_text,
                       stdin=None if input_text is not None else subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def make(*targets_and_vars):
    """Runs make in the repository (the top-level Makefile, which includes mk/install.mk).
    Variables inherited through MAKEFLAGS (SAN=..., as in `make test SAN=...`) apply."""
    return run(["make", "--no-print-directory", "-C", REPO, *targets_and_vars])


def plain_text(formatted: str) -> str:
    """man/groff output without bold/underline overstrikes or colour escapes."""
    return _ANSI.sub("", _OVERSTRIKE.sub("", formatted))
