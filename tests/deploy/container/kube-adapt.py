#!/usr/bin/env python3
"""Turns the shipped app-with-sidecar kustomization into what podman 4.3's
`kube play` can run on this machine, changing only what must change. Each
adaptation is listed in deploy/README.md ("What the container tests run"):

1. The native sidecar (an init container with restartPolicy: Always, Kubernetes
   1.29+) becomes a regular container: podman 4.3 runs every init container to
   completion before the pod's containers start, so it would wait forever.
2. Images point at the locally built ones (no registry here).
3. The token Secret and emptyDirs become hostPath directories made by the test
   (owned by uid 65532, since podman does not apply fsGroup), and the API CA of
   the test bed is mounted beside the token.
4. The init container is kept after it ran (podman annotation: its default,
   "once", removes it and in podman 4.3 races with the container's exit), so
   the test can read its exit code and log.
5. hostNetwork: the test bed listens on loopback; the ConfigMap names the test
   bed's project, service and user; the sidecar polls every second and listens
   on a free port.

Usage: kube-adapt.py K8S_DIR WORK_DIR API_URL PROJECT SERVICE USER PORT > play.yaml
"""
import sys
from pathlib import Path

import yaml

k8s_dir, work, api_url, project, service, user, port = sys.argv[1:8]
k8s_dir, work = Path(k8s_dir), Path(work)

configmap = yaml.safe_load((k8s_dir / "configmap.yaml").read_text())
deployment = yaml.safe_load((k8s_dir / "deployment.yaml").read_text())

configmap["data"].update({"CERTSWAP_PROJECT": project, "CERTSWAP_SERVICE": service,
                          "CERTSWAP_USER": user, "CERTSWAP_API_URL": api_url,
                          "CERTSWAP_API_CA_FILE": "/var/run/secrets/aiven/api-ca.pem"})

pod_spec = deployment["spec"]["template"]["spec"]
sidecars = [c for c in pod_spec["initContainers"] if c.get("restartPolicy") == "Always"]
assert sidecars, "the shipped Deployment has no native sidecar: update kube-adapt.py"
pod_spec["initContainers"] = [c for c in pod_spec["initContainers"] if c not in sidecars]
for sidecar in sidecars:
    del sidecar["restartPolicy"]
    sidecar["args"] = ["run", "--listen", f"127.0.0.1:{port}",
                       "--poll-interval", "1s", "--renewal-poll-interval", "1s"]
    # The kubelet's probes have no podman counterpart that gates the app; the
    # test polls /readyz from the host instead.
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        sidecar.pop(probe, None)
    sidecar.pop("ports", None)
pod_spec["containers"] = sidecars + pod_spec["containers"]

for container in pod_spec["initContainers"] + pod_spec["containers"]:
    image = container["image"]
    container["image"] = "localhost/certswap:test" if image == "certswap" else f"localhost/{image}"

volumes = []
for volume in pod_spec["volumes"]:
    path = work / "volumes" / volume["name"]
    volumes.append({"name": volume["name"], "hostPath": {"path": str(path), "type": "Directory"}})
pod_spec["volumes"] = volumes
pod_spec["hostNetwork"] = True

pod = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": deployment["metadata"]["name"],
                    "annotations": {"io.podman.annotations.init.container.type": "always"},
                    "labels": deployment["spec"]["template"]["metadata"]["labels"]},
       "spec": pod_spec}
yaml.safe_dump_all([configmap, pod], sys.stdout, sort_keys=False)
