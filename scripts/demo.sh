#!/usr/bin/env bash
# `make demo`: generate a small packaging site, capture it into the default SQLite
# repository (./serialvault.db), verify the audit trail, rebuild the projections from
# the log and show that the fingerprint is unchanged. Then: keys, a full backup, more
# events, an incremental, a full verification, and a restore whose fingerprint matches.
# Safe to run again: each run starts from a new repository and new copies (the keys are
# kept). Deleting a repository's backups would rightly be reported as a rollback by the
# witness beside it, so the demo removes its own repository, witness and copies together.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SV="$ROOT/.venv/bin/serialvault"
PY="$ROOT/.venv/bin/python"
UNITS="${DEMO_UNITS:-24000}"
# the demo's files go to DEMO_WORKDIR (default: the project folder)
mkdir -p "${DEMO_WORKDIR:-$ROOT}"
cd "${DEMO_WORKDIR:-$ROOT}"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Generate a site of ${UNITS} units (EPCIS 2.0 JSON-LD, deterministic)"
$SV demo generate --units "$UNITS" --max-epcs "${DEMO_MAX_EPCS:-5000}" --out demo-site --force

step "2. Create the repository (SQLite: ./serialvault.db), replacing the previous demo's"
rm -rf serialvault.db serialvault.db-wal serialvault.db-shm serialvault.db.witness \
  demo-restored.db demo-restored.db-wal demo-restored.db-shm demo-restored.db.witness \
  demo-backup demo-backup-2 drill-runs drill-sandbox demo-drills
$SV init

step "3. Capture the documents but the last two (each one all-or-nothing)"
FILES=(demo-site/*.jsonld)
N=${#FILES[@]}
$SV capture "${FILES[@]:0:N-2}"

step "4. Audit trail: walk the hash chain from genesis"
$SV audit verify

step "5. A pallet and what is inside it"
PALLET=$($SV events --biz-step shipping --limit 1 --full | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0]["epcList"][0])')
echo "pallet: $PALLET"
$SV contents "$PALLET" --summary

step "6. Rebuild every projection from the log: the fingerprint must not change"
$SV rebuild

step "7. Backup keys (AES-256 + Ed25519, mode 0600), kept from one run to the next"
if [ -f serialvault-keys/signing.key ]; then echo "serialvault-keys/ exists: kept"; else $SV keys generate; fi

step "8. Full backup to the on-site copy ./demo-backup"
BACKUP="file://$PWD/demo-backup"
$SV backup full --to "$BACKUP"

step "9. More events arrive; an incremental backup ships only them"
$SV capture "${FILES[@]:N-2}"
$SV backup incr --to "$BACKUP"
$SV backup list --to "$BACKUP"

step "10. Verify the copy: every object read, hashed, decrypted, chain-checked"
$SV backup verify --to "$BACKUP" --full

step "11. Restore into a fresh SQLite file and compare fingerprints"
$SV restore --from "$BACKUP" --into demo-restored.db --force
LIVE=$($SV fingerprint --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])')
REST=$($SV fingerprint --db demo-restored.db --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])')
echo "live repository:     $LIVE"
echo "restored repository: $REST"
if [ "$LIVE" = "$REST" ]; then echo "fingerprints match"; else echo "FINGERPRINTS DIFFER"; exit 8; fi

step "12. What the backups must hold, and a schedule for RPO 15 min / RTO 4 h (uses the restore just measured)"
$SV backup inventory
$SV backup plan --rpo 15m --rto 4h --to "$BACKUP"

step "13. Drills on sandboxes: primary-loss, corruption, bad-change, tampered-backup"
# a second on-site copy, so that a tampered object in one copy can be taken from the other
BACKUP2="file://$PWD/demo-backup-2"
$SV backup full --to "$BACKUP2" >/dev/null
mkdir -p demo-drills
HEAD=$($SV status --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["head_seq"])')
for s in primary-loss corruption bad-change tampered-backup; do
  $SV drill new --scenario "$s" --out "demo-drills/$s.toml" --force --reason "demo plan" >/dev/null
done
# the bad change: pretend the last captured document was wrong; restore to before it
sed -i "s/^before_seq = 2 /before_seq = $((HEAD - 20)) /" demo-drills/bad-change.toml
FAILED=0
for s in primary-loss corruption bad-change tampered-backup; do
  OUT=$($SV drill run "demo-drills/$s.toml" --to "$BACKUP" --to "$BACKUP2" --json) || FAILED=1
  echo "$OUT" | "$PY" "$ROOT/scripts/drill_summary.py"
done
$SV evidence verify "$(ls -d drill-runs/*/evidence | head -1)"
$SV drill list
if [ "$FAILED" != 0 ]; then echo "A DRILL DID NOT PASS"; exit 8; fi

step "14. Summary"
$SV status
