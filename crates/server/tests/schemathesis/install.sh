#!/bin/sh
# Installs Schemathesis (pinned in requirements.txt beside this script) into the virtual
# environment DIR, unless DIR already holds exactly these requirements. Used by the test
# suite on first need and by .ci/run.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv=${1:?usage: install.sh VENV_DIR}
if [ -x "$venv/bin/schemathesis" ] && cmp -s "$here/requirements.txt" "$venv/requirements.txt"; then
  exit 0
fi
echo "schemathesis: installing into $venv" >&2
rm -rf "$venv"
"${TESSERA_PYTHON:-python3}" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
cp "$here/requirements.txt" "$venv/requirements.txt"
