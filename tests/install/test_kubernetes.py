"""contrib/kubernetes: the manifests parse, the proxy.conf in the ConfigMap passes -t, and
the Deployment and Service agree with it (probe and ports, grace period, admin socket on
an emptyDir only, the configuration mounted as a folder)."""
import os
import posixpath
import tempfile
import unittest

from support import BIN, REPO, run

try:
    import yaml
except ImportError:  # scripts/ensure-deps.sh test installs python3-yaml
    yaml = None

K8S = os.path.join(REPO, "contrib", "kubernetes")


def load_documents():
    docs = {}
    for name in sorted(os.listdir(K8S)):
        if name.endswith(".yaml"):
            with open(os.path.join(K8S, name)) as f:
                for doc in yaml.safe_load_all(f):
                    if doc:
                        docs[doc["kind"]] = doc
    return docs


def ini_values(text):
    """{(section, key): [values]} of proxy.conf text (repeated keys keep every value)."""
    out, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in ";#":
            continue
        if line.startswith("["):
            section = line[1:line.index("]")]
            continue
        key, _, value = line.partition("=")
        value = value.split(" ;")[0].strip()
        out.setdefault((section, key.strip()), []).append(value)
    return out


def port_of(address):
    return int(address.rsplit(":", 1)[1])


@unittest.skipIf(yaml is None, "python3-yaml is missing (scripts/ensure-deps.sh test)")
class KubernetesManifestsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.docs = load_documents()
        cls.conf_text = cls.docs["ConfigMap"]["data"]["proxy.conf"]
        cls.conf = ini_values(cls.conf_text)
        spec = cls.docs["Deployment"]["spec"]["template"]["spec"]
        cls.pod = spec
        cls.container = spec["containers"][0]
        cls.ports = {p["name"]: p["containerPort"] for p in cls.container["ports"]}

    def test_every_kind_is_there(self):
        self.assertEqual(set(self.docs), {"ConfigMap", "Deployment", "Service"})

    def test_embedded_configuration_passes_t(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "proxy.conf")
            with open(path, "w") as f:
                f.write(self.conf_text)
            status, out, err = run([BIN, "-t", "-c", path], timeout=60)
        self.assertEqual(status, 0, out + err)

    def test_readiness_probes_healthz_on_the_stats_port(self):
        probe = self.container["readinessProbe"]["httpGet"]
        self.assertEqual(probe["path"], "/healthz")
        stats = port_of(self.conf[("global", "stats_listen")][0])
        self.assertEqual(self.ports[probe["port"]], stats)
        # /healthz is 503 through a drain: a liveness probe on it would kill the drain.
        liveness = self.container.get("livenessProbe", {})
        self.assertNotEqual(liveness.get("httpGet", {}).get("path"), "/healthz")

    def test_every_route_port_is_a_container_port(self):
        routes = [v[0] for (section, key), v in self.conf.items()
                  if section.startswith("route:") and key == "listen"]
        self.assertTrue(routes)
        for listen in routes:
            self.assertIn(port_of(listen), self.ports.values(), listen)

    def test_termination_grace_is_above_grace_period_ms(self):
        grace_ms = int(self.conf[("global", "grace_period_ms")][0])
        self.assertGreater(self.pod["terminationGracePeriodSeconds"] * 1000, grace_ms)

    def test_admin_socket_is_on_an_emptydir_only(self):
        admin = self.conf[("global", "admin_listen")][0]
        self.assertTrue(admin.startswith("unix:"), admin)
        folder = posixpath.dirname(admin[len("unix:"):])
        mounts = {m["mountPath"]: m["name"] for m in self.container["volumeMounts"]}
        self.assertIn(folder, mounts)
        volume = next(v for v in self.pod["volumes"] if v["name"] == mounts[folder])
        self.assertIn("emptyDir", volume)

    def test_configuration_is_mounted_as_a_folder(self):
        args = self.container["args"]
        config_path = args[args.index("-c") + 1]
        folder = posixpath.dirname(config_path)
        mount = next(m for m in self.container["volumeMounts"] if m["mountPath"] == folder)
        self.assertNotIn("subPath", mount, "a subPath mount never sees ConfigMap updates")
        volume = next(v for v in self.pod["volumes"] if v["name"] == mount["name"])
        self.assertEqual(volume["configMap"]["name"], self.docs["ConfigMap"]["metadata"]["name"])
        self.assertEqual(posixpath.basename(config_path), "proxy.conf")

    def test_service_exposes_route_ports_only(self):
        stats = port_of(self.conf[("global", "stats_listen")][0])
        service = self.docs["Service"]["spec"]
        self.assertEqual(service["selector"], self.docs["Deployment"]["spec"]["selector"]["matchLabels"])
        for port in service["ports"]:
            target = port["targetPort"]
            target = self.ports[target] if isinstance(target, str) else target
            self.assertNotEqual(target, stats, "the stats endpoint must not be in the Service")
            self.assertIn(target, self.ports.values())


if __name__ == "__main__":
    unittest.main()
