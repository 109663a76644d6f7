#!/usr/bin/env bash
# The alerting rules of deploy/monitoring: promtool (from Debian's prometheus
# package, unpacked, never installed: no daemon) checks them and runs
# alerts.test.yaml, where each alert fires for one series and not for another;
# and the PrometheusRule holds the same rules as the plain rule file.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cache="${CERTSWAP_CACHE_DIR:-$HOME/.cache/certswap}/promtool"
if [[ ! -x "$cache/promtool" ]]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # apt-get download needs only the package lists (deploy/install-deps.sh).
  (cd "$work" && apt-get download prometheus >/dev/null 2>&1) ||
    { echo "alerts-test: apt-get download prometheus failed" >&2; exit 1; }
  dpkg-deb -x "$work"/prometheus_*.deb "$work/x"
  mkdir -p "$cache"
  install -m 0755 "$work/x/usr/bin/promtool" "$cache/promtool"
fi
promtool="$cache/promtool"
"$promtool" check rules "$root/deploy/monitoring/certswap-alerts.yaml"
(cd "$here" && "$promtool" test rules alerts.test.yaml)
/usr/bin/python3 - "$root/deploy/monitoring" <<'PY'
import sys, yaml
d = sys.argv[1]
plain = yaml.safe_load(open(f"{d}/certswap-alerts.yaml"))
operator = yaml.safe_load(open(f"{d}/prometheusrule.yaml"))
assert operator["kind"] == "PrometheusRule", "prometheusrule.yaml is not a PrometheusRule"
if operator["spec"] != plain:
    sys.exit("alerts-test: prometheusrule.yaml's spec differs from certswap-alerts.yaml")
print("alerts-test: the PrometheusRule holds the same", sum(len(g["rules"]) for g in plain["groups"]), "rules")
PY
