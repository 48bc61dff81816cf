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

# the demo's period, for its audit-trail review and inspection pack
START=$(date -u +%FT%T.%3NZ)

step "2. Create the repository (SQLite: ./serialvault.db) and its users, replacing the previous demo's"
rm -rf serialvault.db serialvault.db-wal serialvault.db-shm serialvault.db.witness \
  demo-restored.db demo-restored.db-wal demo-restored.db-shm demo-restored.db.witness \
  demo-backup demo-backup-2 drill-runs drill-sandbox demo-drills demo-users demo-short-case.jsonld \
  demo-review demo-inspection.zip
# Every change is made by an authenticated user with the role for it. The demo creates
# three people, each with a random password in a 0600 file and a session home of their
# own: alice (admin), oscar (operator, captures), quinn (qa, signs off the drills).
mkdir -p demo-users && chmod 700 demo-users
for f in alice oscar quinn oscar-from-admin quinn-from-admin; do
  "$PY" -c 'import secrets; print(secrets.token_urlsafe(18))' > "demo-users/$f.pw"
  chmod 600 "demo-users/$f.pw"
done
for u in alice oscar quinn; do mkdir -p "demo-users/$u"; done
ALICE=(env SERIALVAULT_HOME="$PWD/demo-users/alice" "$SV")
OSCAR=(env SERIALVAULT_HOME="$PWD/demo-users/oscar" "$SV")
QUINN=(env SERIALVAULT_HOME="$PWD/demo-users/quinn" "$SV")
"${ALICE[@]}" init --admin alice --admin-name "Alice Admin" --password-file demo-users/alice.pw
"${ALICE[@]}" login alice --password-file demo-users/alice.pw
# alice hands each a first password; their first log-in replaces it with their own
"${ALICE[@]}" user add oscar --name "Oscar Operator" --role operator --password-file demo-users/oscar-from-admin.pw >/dev/null
"${ALICE[@]}" user add quinn --name "Quinn QA" --role qa --password-file demo-users/quinn-from-admin.pw >/dev/null
"${ALICE[@]}" user list
"${OSCAR[@]}" login oscar --password-file demo-users/oscar-from-admin.pw --new-password-file demo-users/oscar.pw
"${QUINN[@]}" login quinn --password-file demo-users/quinn-from-admin.pw --new-password-file demo-users/quinn.pw

# drafts under change control are approved by quinn (qa), never by their author: one
# act of signing over all of them, her password re-entered
approve_drafts() {
  local ids
  ids=$("${QUINN[@]}" change list --status draft --json | "$PY" -c 'import json,sys; print(" ".join(c["id"] for c in json.load(sys.stdin)))')
  [ -z "$ids" ] || "${QUINN[@]}" change approve $ids --user quinn --password-file demo-users/quinn.pw
}

step "3. Master data under change control: oscar imports the site's products, quinn approves"
FILES=(demo-site/*.jsonld)
N=${#FILES[@]}
"${OSCAR[@]}" masterdata import "${FILES[0]}" --reason "products of the demo site"
approve_drafts
"${OSCAR[@]}" product list

step "4. oscar captures the documents but the last two (each one all-or-nothing)"
"${OSCAR[@]}" capture "${FILES[@]:0:N-2}"
export SERIALVAULT_HOME="$PWD/demo-users/alice"  # from here on alice (admin) acts, unless named

step "4b. A short case: captured, and flagged as a count-mismatch exception"
CASE=$("$PY" "$ROOT/scripts/short_case.py" demo-short-case.jsonld)
"${OSCAR[@]}" capture demo-short-case.jsonld --from line:L1
EX=$("${QUINN[@]}" exception list --type count-mismatch --status open --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
"${QUINN[@]}" exception show "$EX"

step "4c. quinn assigns it to oscar, who reworks the case; quinn closes it with a CAPA"
"${QUINN[@]}" exception assign "$EX" --to oscar --note "short case at the end of line 1"
"${OSCAR[@]}" rework unpack "$CASE" --exception "$EX"
"${OSCAR[@]}" rework decommission "$CASE" --reason other --exception "$EX"
"${OSCAR[@]}" exception resolve "$EX" --resolution "case unpacked, its label voided; the three units wait for the next case"
CAPA=$("${QUINN[@]}" capa new --title "short cases at line end" --problem "a case was closed with 3 of 120 units" \
  --root-cause "the line closes the open case when a lot ends" --exception "$EX" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["capa"])')
"${QUINN[@]}" capa update "$CAPA" --preventive "hold a partial case open across lots" --owner oscar --due "$(date -u -d '+30 days' +%F)"
"${QUINN[@]}" exception close "$EX" --user quinn --password-file demo-users/quinn.pw
"${QUINN[@]}" capa show "$CAPA"

step "5. Audit trail: walk the hash chain from genesis"
$SV audit verify

step "6. A pallet and what is inside it"
PALLET=$($SV events --biz-step shipping --limit 1 --full | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0]["epcList"][0])')
echo "pallet: $PALLET"
$SV contents "$PALLET" --summary

step "7. Rebuild every projection from the log: the fingerprint must not change"
$SV rebuild

step "8. Backup keys (AES-256 + Ed25519, mode 0600), kept from one run to the next"
if [ -f serialvault-keys/signing.key ]; then echo "serialvault-keys/ exists: kept"; else $SV keys generate; fi

step "9. Full backup to the on-site copy ./demo-backup"
BACKUP="file://$PWD/demo-backup"
$SV backup full --to "$BACKUP"

step "10. More events arrive; an incremental backup ships only them"
"${OSCAR[@]}" capture "${FILES[@]:N-2}"
$SV backup incr --to "$BACKUP"
$SV backup list --to "$BACKUP"

step "11. Verify the copy: every object read, hashed, decrypted, chain-checked"
$SV backup verify --to "$BACKUP" --full

step "12. Restore into a fresh SQLite file and compare fingerprints"
$SV restore --from "$BACKUP" --into demo-restored.db --force
# nobody is logged in to a restored repository; alice's account came back with it
$SV login alice --db demo-restored.db --password-file demo-users/alice.pw
LIVE=$($SV fingerprint --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])')
REST=$($SV fingerprint --db demo-restored.db --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])')
echo "live repository:     $LIVE"
echo "restored repository: $REST"
if [ "$LIVE" = "$REST" ]; then echo "fingerprints match"; else echo "FINGERPRINTS DIFFER"; exit 8; fi

step "13. What the backups must hold, and a schedule for RPO 15 min / RTO 4 h (uses the restore just measured)"
$SV backup inventory
$SV backup plan --rpo 15m --rto 4h --to "$BACKUP"

step "14. Drills on sandboxes: primary-loss, corruption, bad-change, tampered-backup"
# a second on-site copy, so that a tampered object in one copy can be taken from the other
BACKUP2="file://$PWD/demo-backup-2"
$SV backup full --to "$BACKUP2" >/dev/null
mkdir -p demo-drills
HEAD=$($SV status --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["head_seq"])')
for s in primary-loss corruption bad-change tampered-backup; do
  $SV drill new --scenario "$s" --out "demo-drills/$s.toml" --force --reason "demo plan" >/dev/null
done
# plans are under change control too: quinn (qa) approves the versions alice drafted
approve_drafts
# the bad change: pretend the last captured document was wrong; restore to before it
sed -i "s/^before_seq = 2 /before_seq = $((HEAD - 20)) /" demo-drills/bad-change.toml
$SV drill record demo-drills/bad-change.toml --reason "demo: before the last document" >/dev/null
approve_drafts
FAILED=0
for s in primary-loss corruption bad-change tampered-backup; do
  OUT=$($SV drill run "demo-drills/$s.toml" --to "$BACKUP" --to "$BACKUP2" --json) || FAILED=1
  echo "$OUT" | "$PY" "$ROOT/scripts/drill_summary.py"
done
$SV drill list
if [ "$FAILED" != 0 ]; then echo "A DRILL DID NOT PASS"; exit 8; fi

step "15. quinn (qa) signs the first drill's evidence: password re-entered, her own registered key"
EVIDENCE="$(ls -d drill-runs/*/evidence | head -1)"
export SERIALVAULT_REVIEWER_PASSPHRASE="$(cat demo-users/quinn.pw)"
[ -f demo-users/quinn-review.pem ] || "${QUINN[@]}" evidence reviewer-key --out demo-users/quinn-review.pem >/dev/null
"${QUINN[@]}" user key add --public-key demo-users/quinn-review.pub --password-file demo-users/quinn.pw >/dev/null
"${QUINN[@]}" evidence sign-off "$EVIDENCE" --key demo-users/quinn-review.pem --meaning approved \
  --user quinn --password-file demo-users/quinn.pw
$SV evidence verify "$EVIDENCE" --reviewer-key demo-users/quinn-review.pub

step "16. quinn reviews the audit trail of the demo's period and signs the review"
END=$(date -u +%FT%T.%3NZ)
sleep 1  # the period is over
"${QUINN[@]}" audit review --from "$START" --to "$END" --out demo-review
# the reviewer is not among those whose privileged actions the review lists (alice's)
"${QUINN[@]}" audit review sign demo-review --user quinn --password-file demo-users/quinn.pw
"${QUINN[@]}" audit review verify demo-review

step "17. The inspection pack of the period: one signed zip, checked with the public key alone"
"${QUINN[@]}" inspection pack --from "$START" --to "$(date -u +%FT%T.%3NZ)" --out demo-inspection.zip \
  --review demo-review --backup "$BACKUP" --backup "$BACKUP2" --reviewer-key demo-users/quinn-review.pub
$SV evidence verify demo-inspection.zip --public-key serialvault-keys/signing.pub

step "18. Summary"
$SV status
