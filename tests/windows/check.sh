#!/usr/bin/env bash
# The Windows check: cross-build entra-failover.exe with mingw-w64 and run the runbook with it under
# Wine against the rehearsal tenant, once with the .exe's own in-process tenant and once through a
# profile pointing at a tenant served by the native Linux binary (tests/windows/runbook.py says what
# is checked). Installs what it needs (apt, rustup). Usage: tests/windows/check.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)
target=x86_64-pc-windows-gnu
export CARGO_TERM_COLOR=never

need=()
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || need+=(gcc-mingw-w64-x86-64)
command -v wine >/dev/null 2>&1 || need+=(wine64)
if [ ${#need[@]} -gt 0 ]; then
  echo "windows check: installing ${need[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! rustup target list --installed | grep -qx "$target"; then
  rustup target add "$target"
fi

echo "windows check: building the .exe (release, $target) and the native binary"
cargo build --locked --release --target "$target"
cargo build --locked
exe_dir="target/$target/release"
exe="$exe_dir/entra-failover.exe"

# The test environment's gap, not the product's: Wine 8 lacks ProcessPrng (see processprng.c).
x86_64-w64-mingw32-gcc -O2 -shared -Wl,--kill-at -o "$exe_dir/bcryptprimitives.dll" \
  tests/windows/processprng.c -ladvapi32

work=$(mktemp -d)
trap 'wineserver -k >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEARCH=win64
# No Mono or Gecko prompts; the shim beside the .exe wins over Wine's own bcryptprimitives.
export WINEDLLOVERRIDES="mscoree,mshtml=;bcryptprimitives=n"
echo "windows check: preparing a Wine prefix"
wineboot -i >/dev/null 2>&1 || true
wineserver -w || true

python3 tests/windows/runbook.py --exe "$exe" --native target/debug/entra-failover --work "$work"
echo "windows check: $(( $(date +%s) - started )) s in all; the .exe is $(stat -c %s "$exe") bytes"
