"""Writing proxy configuration files for a test: routes on fresh 127.0.0.1 ports and a
[global] section with test-friendly defaults. Plain data, no shared state."""
from dataclasses import dataclass, field

from . import env
from .ports import free_port

GLOBAL_DEFAULTS = {
    "workers": 2,
    "log_level": "info",
    "access_log": "on",
    "grace_period_ms": 3000,
}


@dataclass
class Route:
    """One [route:NAME]; `backends` are "HOST:PORT[ weight=N]" strings; `options` are any
    other keys (idle_timeout_ms, retries, max_connections, filter, ...)."""
    name: str
    backends: list
    options: dict = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"  # "::1" for an IPv6 listener

    @property
    def listen(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def render(routes, global_options=None) -> str:
    g = dict(GLOBAL_DEFAULTS)
    g["plugin_dir"] = env.PLUGIN_DIR
    g.update(global_options or {})
    lines = ["[global]"]
    lines += [f"{k} = {v}" for k, v in g.items() if v is not None]
    for r in routes:
        lines += ["", f"[route:{r.name}]", f"listen = {r.listen}"]
        lines += [f"backend = {b}" for b in r.backends]
        lines += [f"{k} = {v}" for k, v in r.options.items()]
    return "\n".join(lines) + "\n"


def write(path, routes, global_options=None) -> str:
    with open(path, "w") as f:
        f.write(render(routes, global_options))
    return str(path)
