#!/usr/bin/env bash
# Builds the real control-plane binaries from their Go modules (through the Go module proxy) and
# caches them under ~/.cache/weir/<component>-<version>/bin. A second run with the same versions is a
# no-op. Each tool builds in its own throw-away consumer module so dependency versions never mix.
#
#   test/cluster/tools/build.sh [component ...]
#     components: etcd kubernetes kwok helm traefik podinfo prometheus flagger
#     (default: every tool the tests and the demo use; `all` adds flagger, for npm run bench:peer)
#   Independent builds run two at a time (Traefik, the largest, starts first) so a cold run overlaps them.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$HERE/versions.env"
CACHE="${WEIR_CACHE:-$HOME/.cache/weir}"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
log() { printf '[build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# done_marker DIR: a build is complete only when its marker exists (a killed build is redone).
have() { [[ -f "$1/.complete" ]]; }

build_etcd() {
  local dir="$CACHE/etcd-$ETCD_VERSION"
  have "$dir" && { log "etcd $ETCD_VERSION cached"; return; }
  log "building etcd $ETCD_VERSION (first time only, ~3 min)"
  local work; work="$(mktemp -d)"
  cp "$HERE/etcd/main.go" "$work/"
  (cd "$work" && go mod init weir.local/etcd >/dev/null 2>&1 \
    && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" \
    && go build -trimpath -ldflags "-s -w" -o "$dir/bin/etcd" .)
  rm -rf "$work"; touch "$dir/.complete"
}

build_kubernetes() {
  local dir="$CACHE/kubernetes-$KUBERNETES_VERSION"
  have "$dir" && { log "kubernetes $KUBERNETES_VERSION cached"; return; }
  log "building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl $KUBERNETES_VERSION (first time only, ~15-25 min on 2 cores)"
  local work; work="$(mktemp -d)"
  local gomod
  gomod="$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')"
  # Kubernetes' own go.mod replaces each staging module with ./staging/...; a consumer module must
  # point each one at its published v0.<minor>.<patch> instead. Read the list, never type it.
  local staging="v0${KUBERNETES_VERSION#v1}"
  {
    echo "module weir.local/kubernetes"
    echo "go $(sed -n 's/^go \(.*\)/\1/p' "$gomod")"
    echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
    echo "replace ("
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\t\1 => \1 '"$staging"'#p' "$gomod"
    echo ")"
  } > "$work/go.mod"
  local minor; minor="$(echo "$KUBERNETES_VERSION" | cut -d. -f2)"
  local pkg=k8s.io/component-base/version cg=k8s.io/client-go/pkg/version
  local ld="-s -w"
  for p in $pkg $cg; do
    ld+=" -X $p.gitVersion=$KUBERNETES_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  (cd "$work" && for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
      log "  go build $cmd"
      go build -trimpath -ldflags "$ld" -o "$dir/bin/$cmd" "k8s.io/kubernetes/cmd/$cmd"
    done)
  rm -rf "$work"; touch "$dir/.complete"
}

build_kwok() {
  local dir="$CACHE/kwok-$KWOK_VERSION"
  have "$dir" && { log "kwok $KWOK_VERSION cached"; return; }
  log "building kwok $KWOK_VERSION (first time only, ~3 min)"
  local work; work="$(mktemp -d)"
  (cd "$work" && go mod init weir.local/kwok >/dev/null 2>&1 \
    && echo "require sigs.k8s.io/kwok $KWOK_VERSION" >> go.mod \
    && go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" -o "$dir/bin/kwok" sigs.k8s.io/kwok/cmd/kwok)
  rm -rf "$work"; touch "$dir/.complete"
}

build_helm() {
  local dir="$CACHE/helm-$HELM_VERSION"
  have "$dir" && { log "helm $HELM_VERSION cached"; return; }
  log "building helm $HELM_VERSION (first time only, ~3 min)"
  local work; work="$(mktemp -d)"
  (cd "$work" && go mod init weir.local/helm >/dev/null 2>&1 \
    && echo "require helm.sh/helm/v3 $HELM_VERSION" >> go.mod \
    && go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" -o "$dir/bin/helm" helm.sh/helm/v3/cmd/helm)
  rm -rf "$work"; touch "$dir/.complete"
}

build_traefik() {
  local dir="$CACHE/traefik-$TRAEFIK_VERSION"
  have "$dir" && { log "traefik $TRAEFIK_VERSION cached"; return; }
  log "building traefik $TRAEFIK_VERSION (first time only, ~15-30 min on 2 cores)"
  local work; work="$(mktemp -d)"
  local gomod
  gomod="$(go mod download -json "github.com/traefik/traefik/v3@$TRAEFIK_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')"
  # Traefik's go.mod replaces forks (gorilla/mux, go-http-auth, minheap) and excludes one broken
  # version; a consumer module must carry the same lines. Read them from its go.mod, never type them.
  {
    echo "module weir.local/traefik"
    echo "go $(sed -n 's/^go \(.*\)/\1/p' "$gomod")"
    echo "require github.com/traefik/traefik/v3 $TRAEFIK_VERSION"
    sed -n '/^replace (/,/^)/p' "$gomod"
    grep '^exclude ' "$gomod" || true
  } > "$work/go.mod"
  local pv=github.com/traefik/traefik/v3/pkg/version
  (cd "$work" && go build -trimpath -ldflags "-s -w -X $pv.Version=$TRAEFIK_VERSION" \
      -o "$dir/bin/traefik" github.com/traefik/traefik/v3/cmd/traefik)
  rm -rf "$work"; touch "$dir/.complete"
}

# go_install NAME VERSION PACKAGE NOTE: a tool whose module builds as published (no replace lines).
go_install() {
  local dir="$CACHE/$1-$2"
  have "$dir" && { log "$1 $2 cached"; return; }
  log "building $1 $2 (first time only, $4)"
  GOBIN="$dir/bin" go install -trimpath -ldflags "-s -w" "$3@$2"
  touch "$dir/.complete"
}

build_podinfo() {
  go_install podinfo "$PODINFO_VERSION" github.com/stefanprodan/podinfo/cmd/podinfo "~2 min"
}

build_prometheus() {
  local dir="$CACHE/prometheus-$PROMETHEUS_VERSION"
  have "$dir" && { log "prometheus $PROMETHEUS_VERSION cached"; return; }
  log "building prometheus $PROMETHEUS_VERSION (first time only, ~5-10 min on 2 cores)"
  local work; work="$(mktemp -d)"
  # Debian's prometheus package leaves Kubernetes service discovery out; the data-plane tests need it.
  # Prometheus' own build tags keep only file, http and kubernetes discovery (no cloud SDKs to build).
  # The module is v0.<minor*100+…>; its VERSION file holds the release (3.x) the binary reports.
  local info src
  info="$(go mod download -json "github.com/prometheus/prometheus@$PROMETHEUS_VERSION")"
  src="$(sed -n 's/.*"Dir": "\(.*\)",/\1/p' <<<"$info")"
  {
    echo "module weir.local/prometheus"
    echo "go $(sed -n 's/^go \(.*\)/\1/p' "$src/go.mod")"
    echo "require github.com/prometheus/prometheus $PROMETHEUS_VERSION"
  } > "$work/go.mod"
  (cd "$work" && go build -trimpath -tags remove_all_sd,enable_kubernetes_sd \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=$(cat "$src/VERSION")" \
      -o "$dir/bin/prometheus" github.com/prometheus/prometheus/cmd/prometheus)
  rm -rf "$work"; touch "$dir/.complete"
}

build_flagger() {
  go_install flagger "$FLAGGER_VERSION" github.com/fluxcd/flagger/cmd/flagger "~3 min; only bench:peer uses it"
}

# The default set is what the tests and the demo use; `all` adds Flagger for `npm run bench:peer`.
tests_use=(traefik etcd kubernetes kwok helm podinfo prometheus)
components=("$@"); [[ ${#components[@]} -gt 0 ]] || components=("${tests_use[@]}")
[[ ${components[*]} == all ]] && components=("${tests_use[@]}" flagger)
# Two lanes: Traefik alone in one (it is the longest), everything else in order in the other. Go's
# build cache is safe to share between concurrent builds.
# One build per tool at a time across processes (parallel `npm test` runs): a second caller waits,
# then finds it cached.
mkdir -p "$CACHE"
run_lane() { local c; for c in "$@"; do (flock 9; "build_$c") 9>"$CACHE/.$c.lock"; done; }
lane_a=(); lane_b=()
for c in "${components[@]}"; do
  if [[ $c == traefik ]]; then lane_a+=("$c"); else lane_b+=("$c"); fi
done
pid_a=""
if ((${#lane_a[@]})) && ((${#lane_b[@]})); then
  run_lane "${lane_a[@]}" & pid_a=$!
  run_lane "${lane_b[@]}"
  wait "$pid_a"
else
  run_lane "${lane_a[@]}" "${lane_b[@]}"
fi
log "done: $CACHE"
