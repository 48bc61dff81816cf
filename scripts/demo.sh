#!/usr/bin/env bash
# `make demo`: generate a small packaging site, capture it into the default SQLite
# repository (./serialvault.db), verify the audit trail, rebuild the projections from
# the log and show that the fingerprint is unchanged. Safe to run again: re-capturing
# the same documents is a no-op (GS1 event hash).
set -euo pipefail
cd "$(dirname "$0")/.."
SV=.venv/bin/serialvault
UNITS="${DEMO_UNITS:-24000}"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Generate a site of ${UNITS} units (EPCIS 2.0 JSON-LD, deterministic)"
$SV demo generate --units "$UNITS" --out demo-site --force

step "2. Create the repository (SQLite: ./serialvault.db)"
$SV init

step "3. Capture every document (each one all-or-nothing)"
$SV capture demo-site

step "4. Audit trail: walk the hash chain from genesis"
$SV audit verify

step "5. A pallet and what is inside it"
PALLET=$($SV events --biz-step shipping --limit 1 --full | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0]["epcList"][0])')
echo "pallet: $PALLET"
$SV contents "$PALLET" --summary

step "6. Rebuild every projection from the log: the fingerprint must not change"
$SV rebuild

step "7. Summary"
$SV status
