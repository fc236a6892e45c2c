"""Black-box test harness for arus-proxy: process control, fake backends, clients, waits."""
from . import config, env, http, logs
from .backends import Backend, ConnRecord
from .case import ProxyTestCase
from .client import (connect, echo_transfer, expect_closed, payload_chunks, recv_exact,
                     recv_until_closed, roundtrip)
from .config import Route
from .ports import Blackhole, free_port
from .proxy import Proxy
from .repeat import RepeatThread
from .wait import Deadline, default_timeout, wait_until

__all__ = [
    "config", "env", "http", "logs", "Backend", "ConnRecord", "ProxyTestCase", "connect", "echo_transfer",
    "expect_closed", "payload_chunks", "recv_exact", "recv_until_closed", "roundtrip", "Route",
    "Blackhole", "free_port", "Proxy", "RepeatThread", "Deadline", "default_timeout", "wait_until",
]
