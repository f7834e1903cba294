#!/usr/bin/env bash
# Install everything the tests need, then run the whole suite: lint, types, tests.
# This is the README's second command, and exactly what .ci/run runs.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Real peers for the end-to-end tests: Prometheus, Alertmanager and amtool, curl, and
# Chromium with its driver for the console (Debian).
need_apt=()
command -v prometheus >/dev/null || need_apt+=(prometheus)
command -v amtool >/dev/null || need_apt+=(prometheus-alertmanager)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
command -v curl >/dev/null || need_apt+=(curl)  # a runbook's own curl command is run as written
if [ ${#need_apt[@]} -gt 0 ]; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# A virtualenv of its own, with the project and its test extras.
VENV=${TOCSIN_VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -e ".[test]"
export PATH="$PWD/$VENV/bin:$PATH"

echo "== ruff"
ruff check src tests bench
ruff format --check src tests bench
echo "== mypy --strict"
mypy
echo "== pytest"
if [ -z "${TOCSIN_TEST_POSTGRES_URL:-}" ]; then
  echo "note: TOCSIN_TEST_POSTGRES_URL is not set; storage tests run on SQLite only" >&2
fi
# Two workers (pytest-xdist): most of the suite waits on servers it started, so two
# processes halve the time on two cores; TOCSIN_TEST_WORKERS=0 runs it in one.
pytest -q -p no:cacheprovider -n "${TOCSIN_TEST_WORKERS:-2}" "$@"
