#!/usr/bin/env bash
# Set-up shared by `npm test` and `npm run demo`: everything a fresh machine with only Node.js, Go and
# the package registries lacks, each step skipped when already done, each announced with a time estimate.
#   1. Debian packages: prometheus, git, tmux, iproute2 (ip), util-linux (unshare), and the metric
#      backends influxdb, victoria-metrics, graphite-carbon, graphite-web, and chromium for the
#      dashboard's browser test                                                  (~2 min, root only)
#   2. node_modules: `npm ci` when missing or older than package-lock.json               (~1 min)
# The Go-built tools come after, from the script that knows which it needs (test/cluster/tools/build.sh
# prints per tool whether it is cached or how long its cold build takes).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf '[prepare] %s\n' "$*" >&2; }

need=()
# The metric-provider tests run the real InfluxDB 1.x, VictoriaMetrics and Graphite servers; the
# dashboard's browser test runs Debian's headless chromium.
for pair in prometheus:prometheus git:git tmux:tmux ip:iproute2 unshare:util-linux \
  influxd:influxdb victoria-metrics:victoria-metrics carbon-cache:graphite-carbon chromium:chromium; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
[[ -d /usr/lib/python3/dist-packages/graphite ]] || need+=(graphite-web)
if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    say "missing Debian packages: ${need[*]}. Run as root: apt-get update && apt-get install -y ${need[*]}"
    exit 69
  fi
  say "installing Debian packages ${need[*]} (about 1-2 minutes)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# npm records the installed tree in node_modules/.package-lock.json; a lock file changed since means stale.
stamp=node_modules/.weir-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
fresh() { [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; }
if ! fresh; then
  # npm ci deletes node_modules first: two runs at once (a test and the demo) must not both do it,
  # nor one while the other already runs from it. The second waits, then finds the tree fresh.
  exec 8>"${TMPDIR:-/tmp}/weir-npm-ci-$(pwd | sha256sum | cut -c1-12).lock"
  flock 8
  if ! fresh; then
    say "installing npm dependencies with npm ci (about 1 minute)"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" >"$stamp"
  fi
  flock -u 8
fi
