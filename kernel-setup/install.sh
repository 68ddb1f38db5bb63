#!/usr/bin/env bash
# kernel-setup/install.sh: installs everything the notebooks need, idempotently.
#
#   1. Jupyter (notebook server, nbconvert, nbclient) from Debian 12 packages;
#      optionally chromium (WITH_CHROMIUM=1) for HTML screenshots.
#   2. GoNB, goimports (versions pinned in go.mod as tool dependencies) and,
#      with WITH_GOPLS=1, gopls v0.23.0, built into <repo>/bin.
#   3. A GoNB kernelspec local to the repository, <repo>/.jupyter/kernels/gonb,
#      whose env sets PATH and GOMLX_BACKEND, so that jupyter started with
#      JUPYTER_PATH=<repo>/.jupyter (as the Makefile does) always finds it.
#
# Each step prints what it does and skips what is already there. A failure names
# the package or command that failed.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$REPO/bin"
KDIR="$REPO/.jupyter/kernels/gonb"
GOPLS_VERSION="v0.23.0"
# GOMLX_BACKEND for notebooks: "auto" lets pkg/backend choose (GPU plugin, XLA CPU, else fastcpu).
KERNEL_BACKEND="${KERNEL_BACKEND:-auto}"

say()  { printf '[kernel-setup] %s\n' "$*"; }
fail() { printf '[kernel-setup] ERROR: %s\n' "$*" >&2; exit 1; }

# --- 1. Debian packages -------------------------------------------------------
PKGS=(jupyter-notebook jupyter-nbconvert jupyter-client jupyter-core python3-nbclient python3-ipykernel)
if [[ "${WITH_CHROMIUM:-0}" == 1 ]]; then PKGS+=(chromium); fi
missing=()
for p in "${PKGS[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then :; else missing+=("$p"); fi
done
if ((${#missing[@]} == 0)); then
  say "Debian packages present: ${PKGS[*]}"
else
  command -v apt-get >/dev/null || fail "apt-get not found: install ${missing[*]} by hand (Debian 12 packages)"
  SUDO=""
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null || fail "need root or sudo to run: apt-get install ${missing[*]}"
    SUDO="sudo"
  fi
  say "installing Debian packages: ${missing[*]}"
  if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; then
    say "apt-get install failed; running apt-get update once and retrying"
    $SUDO apt-get update -qq || fail "command failed: apt-get update"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
      || fail "command failed: apt-get install -y --no-install-recommends ${missing[*]}"
  fi
fi
command -v jupyter >/dev/null || fail "jupyter not on PATH after installing jupyter-core"

# --- 2. Go tools ----------------------------------------------------------------
command -v go >/dev/null || fail "go not found on PATH: install Go 1.26 from https://go.dev/dl/"
mkdir -p "$BIN"
build_tool() { # name package
  local name="$1" pkg="$2"
  if [[ -x "$BIN/$name" && "$BIN/$name" -nt "$REPO/go.mod" && "$BIN/$name" -nt "$REPO/go.sum" ]]; then
    say "$name present: $BIN/$name"
    return
  fi
  say "building $name from $pkg (version pinned in go.mod)"
  (cd "$REPO" && go build -o "$BIN/$name" "$pkg") || fail "command failed: go build -o bin/$name $pkg"
}
build_tool gonb github.com/janpfeifer/gonb
build_tool goimports golang.org/x/tools/cmd/goimports
if [[ "${WITH_GOPLS:-0}" == 1 ]]; then
  if [[ -x "$BIN/gopls" ]]; then say "gopls present: $BIN/gopls"; else
    say "installing gopls $GOPLS_VERSION"
    GOBIN="$BIN" go install "golang.org/x/tools/gopls@$GOPLS_VERSION" \
      || fail "command failed: go install golang.org/x/tools/gopls@$GOPLS_VERSION"
  fi
else
  say "gopls skipped (optional; WITH_GOPLS=1 installs $GOPLS_VERSION for auto-complete)"
fi

# --- 3. Repo-local kernelspec ---------------------------------------------------
GODIR="$(dirname "$(command -v go)")"
KPATH="$BIN:$GODIR:/usr/local/bin:/usr/bin:/bin"
want="$(printf '{"argv": ["%s", "--kernel", "{connection_file}", "--logtostderr", "--raw_error"], "display_name": "Go (gonb)", "language": "go", "interrupt_mode": "message", "env": {"PATH": "%s", "GOMLX_BACKEND": "%s"}}' \
  "$BIN/gonb" "$KPATH" "$KERNEL_BACKEND")"
if [[ -f "$KDIR/kernel.json" && "$(cat "$KDIR/kernel.json")" == "$want" ]]; then
  say "kernelspec present: $KDIR"
else
  say "registering GoNB kernelspec in $KDIR (GOMLX_BACKEND=$KERNEL_BACKEND)"
  # gonb --install writes the kernelspec and logo under $JUPYTER_DATA_DIR/kernels/gonb.
  JUPYTER_DATA_DIR="$REPO/.jupyter" PATH="$BIN:$PATH" "$BIN/gonb" --install --force_deps >/dev/null 2>&1 \
    || fail "command failed: gonb --install (JUPYTER_DATA_DIR=$REPO/.jupyter)"
  tmp="$(mktemp "$KDIR/kernel.json.XXXX")"
  printf '%s' "$want" >"$tmp" && mv "$tmp" "$KDIR/kernel.json"
fi
specs="$(JUPYTER_PATH="$REPO/.jupyter" jupyter kernelspec list 2>/dev/null || true)"
[[ "$specs" == *gonb* ]] \
  || fail "jupyter does not list the gonb kernel (JUPYTER_PATH=$REPO/.jupyter jupyter kernelspec list)"
say "ready: JUPYTER_PATH=$REPO/.jupyter jupyter kernelspec list shows gonb"
