#!/bin/bash
# Helper for the security suite's ctest entries. Exit code 77 = skipped (ctest SKIP_RETURN_CODE).
#   run.sh pki DIR             # make the certificates (pki.py) afresh in DIR
#   run.sh run KIND CMD...     # check what the suite needs beyond tests/compat's prerequisites
#                              # (openssl; pure-sasl for test_sasl.py), then compat.sh run KIND CMD
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

skip() { echo "SKIPPED: $*"; exit 77; }

command -v openssl >/dev/null || skip "the openssl command is not installed (package openssl)"
case ${1:-} in
pki)
    exec /usr/bin/python3 "$here/pki.py" --fresh "$2"
    ;;
run)
    kind=$2
    shift 2
    for arg in "$@"; do
        case $arg in
        *test_sasl.py)
            /usr/bin/python3 -c 'import puresasl' 2>/dev/null \
                || skip "python3-pure-sasl is not installed for /usr/bin/python3" ;;
        esac
    done
    exec "$here/../compat/compat.sh" run "$kind" "$@"
    ;;
*) echo "usage: run.sh pki DIR | run KIND CMD..." >&2; exit 2 ;;
esac
