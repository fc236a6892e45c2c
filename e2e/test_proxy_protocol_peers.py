"""PROXY protocol with the real peers: HAProxy (send-proxy, send-proxy-v2) in front of
arus, and arus (send_proxy = v1|v2) in front of nginx (`listen ... proxy_protocol`,
answering $proxy_protocol_addr:$proxy_protocol_port) and of HAProxy (`accept-proxy`,
answering %[src]:%[src_port]). The client's own address and port must arrive at the far
end for v1 and v2, over IPv4 and IPv6, on the splice and the filter path."""
import itertools
import os
import socket
import unittest

from harness import ProxyTestCase, env, free_port, recv_until_closed, recv_exact
from harness.peers import NGINX_STREAM_MODULE, PeerProcess, haproxy, nginx

PLUGIN = os.path.join(env.PLUGIN_DIR, "filter.so")
VERSIONS = ("v1", "v2")
HOSTS = ("127.0.0.1", "::1")
PATHS = ("splice", "filter")


def connect(host, port, timeout):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def name_of(host, port, brackets=True):
    return f"[{host}]:{port}" if brackets and ":" in host else f"{host}:{port}"


def bind(host, port):
    return f"{host}:{port}" if ":" not in host else f"ipv6@{host}:{port}"


HAPROXY_DEFAULTS = """global
    maxconn 200
defaults
    timeout connect 5s
    timeout client 30s
    timeout server 30s
"""


@unittest.skipUnless(os.path.isfile(PLUGIN), f"{PLUGIN} not built")
class ProxyProtocolPeersTest(ProxyTestCase):
    def peer(self, argv, port, name):
        p = PeerProcess(argv, port, os.path.join(self.workdir, f"{name}.log"), cwd=self.workdir)
        self.addCleanup(p.stop)
        return p.start(timeout=env.t(20))

    def arus_route(self, name, backend, path, host="127.0.0.1", **options):
        if path == "filter":
            options.update(filter="filter.so", filter_args="upper")
        route = self.route(name, [backend], **options)
        route.host = host
        return route

    def test_haproxy_send_proxy_in_front_of_arus(self):
        echo = self.backend("echo")
        routes = {path: self.arus_route(path, echo, path, accept_proxy="on") for path in PATHS}
        arus = self.start_proxy(list(routes.values()))
        frontends = {}
        text = HAPROXY_DEFAULTS
        for version, path in itertools.product(VERSIONS, PATHS):
            port = free_port()
            frontends[version, path] = port
            option = "send-proxy" if version == "v1" else "send-proxy-v2"
            text += f"""
listen fe_{version}_{path}
    mode tcp
    bind {bind("127.0.0.1", port)}
    bind {bind("::1", port)}
    server arus 127.0.0.1:{routes[path].port} {option}
"""
        cfg = os.path.join(self.workdir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(text)
        self.peer([haproxy(), "-db", "-f", cfg], frontends["v1", "splice"], "haproxy")
        for (version, path), port in frontends.items():
            for host in HOSTS:
                with self.subTest(version=version, path=path, host=host):
                    s = connect(host, port, env.t(5))
                    self.addCleanup(s.close)
                    client = name_of(*s.getsockname()[:2])
                    s.sendall(b"hi")
                    want = b"HI" if path == "filter" else b"hi"
                    self.assertEqual(recv_exact(s, 2, env.t(5)), want)
                    s.close()
                    arus.wait_access(env.t(5), route=path, client=client)

    def arus_sending(self, far_port):
        """arus routes in front of a peer on far_port: every version, host and path."""
        routes = {}
        for version, host, path in itertools.product(VERSIONS, HOSTS, PATHS):
            name = f"{version}_{'six' if ':' in host else 'four'}_{path}"
            routes[version, host, path] = self.arus_route(name, f"127.0.0.1:{far_port}", path,
                                                          host, send_proxy=version)
        self.start_proxy(list(routes.values()))
        return routes

    def test_arus_send_proxy_to_nginx(self):
        port = free_port()
        cfg = os.path.join(self.workdir, "nginx.conf")
        with open(cfg, "w") as f:
            f.write(f"""load_module {NGINX_STREAM_MODULE};
daemon off;
pid {self.workdir}/nginx.pid;
error_log {self.workdir}/nginx-error.log info;
events {{ worker_connections 64; }}
stream {{
    server {{
        listen 127.0.0.1:{port} proxy_protocol;
        return "$proxy_protocol_addr:$proxy_protocol_port\\n";
    }}
}}
""")
        self.peer([nginx(), "-e", f"{self.workdir}/nginx-error.log", "-p", self.workdir,
                   "-c", cfg], port, "nginx")
        for (version, host, path), route in self.arus_sending(port).items():
            with self.subTest(version=version, host=host, path=path):
                s = connect(host, route.port, env.t(5))
                self.addCleanup(s.close)
                client = name_of(*s.getsockname()[:2], brackets=False)
                data, _ = recv_until_closed(s, env.t(5))
                self.assertEqual(data, f"{client}\n".encode())

    def test_arus_send_proxy_to_haproxy_accept_proxy(self):
        port = free_port()
        cfg = os.path.join(self.workdir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(HAPROXY_DEFAULTS + f"""
frontend fe
    mode http
    bind 127.0.0.1:{port} accept-proxy
    http-request return status 200 content-type text/plain lf-string "%[src]:%[src_port]"
""")
        self.peer([haproxy(), "-db", "-f", cfg], port, "haproxy")
        for (version, host, path), route in self.arus_sending(port).items():
            with self.subTest(version=version, host=host, path=path):
                s = connect(host, route.port, env.t(5))
                self.addCleanup(s.close)
                client = name_of(*s.getsockname()[:2], brackets=False)
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                data, _ = recv_until_closed(s, env.t(5))
                self.assertTrue(data.startswith(b"HTTP/1.1 200"), data)
                self.assertTrue(data.endswith(f"\r\n\r\n{client}".encode()), data)


if __name__ == "__main__":
    unittest.main()
