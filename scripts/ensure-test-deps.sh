#!/usr/bin/env bash
# What the tests need from outside npm: Chromium (the page test) and redis-server (the hub's
# Redis tests spawn their own on a free port). Finds them, or installs Debian's packages when
# running as root with apt-get (CI, fresh machines), or says exactly what to run.
set -euo pipefail

missing=()
chromium_found=false
if [ -n "${CHROMIUM_PATH:-}" ] && [ -x "$CHROMIUM_PATH" ]; then chromium_found=true; fi
for candidate in /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -x "$candidate" ]; then chromium_found=true; fi
done
$chromium_found || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)

if [ ${#missing[@]} -eq 0 ]; then exit 0; fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-test-deps: installing Debian packages for the tests: ${missing[*]} (apt-get)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
echo "ensure-test-deps: missing ${missing[*]}. Install with: sudo apt-get install -y ${missing[*]}" >&2
echo "(or set CHROMIUM_PATH to a Chromium/Chrome binary)" >&2
exit 1
