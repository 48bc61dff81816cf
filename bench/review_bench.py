"""Audit-trail review benchmark: ``audit review`` of a month holding 1M log records
(issue target: at most 30 s, streaming).

The log is built directly (records appended through ``LogAppender`` in large
transactions, their times spread over January 2030): ~97 % ``epcis.event`` records of a
line's service account with bodies of a captured event's size, the rest a person's
log-ins (some at night and at weekends), failed log-ins, exceptions and master-data
records — so the classifier, the working-hours check and the flagged list all work.
Then ``app.reviews.audit_review`` (what the command runs: stream, verify the chain,
count, classify, write JSON, HTML and PDF, record ``review.audit``) is timed, and the
streaming pass alone (``tally``) for comparison.

Usage: ``.venv/bin/python bench/review_bench.py [--records 1000000] [--repeat 3]``;
prints a Markdown table of medians for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

from serialvault.app.identity import create_account
from serialvault.app.reviews import audit_review, policy_at
from serialvault.domain.review import AuditTally
from serialvault.identity.auth import login
from serialvault.settings import Settings
from serialvault.store import reviews as store
from serialvault.store.repository import Repository, chain_hash_at

PASSWORD = "benchmark-review-secret"
LIMIT_S = 30.0
START = "2030-01-01T00:00:00.000000Z"
END = "2030-02-01T00:00:00.000000Z"


def _event(n: int) -> bytes:
    """A commissioning event's body, about the size capture records."""
    epc = f"https://id.gs1.org/01/00307421010126/21/{100000000 + n}"
    body = {
        "event": {
            "type": "ObjectEvent",
            "eventTime": "2030-01-05T08:00:00.000-05:00",
            "eventTimeZoneOffset": "-05:00",
            "epcList": [epc],
            "action": "ADD",
            "bizStep": "commissioning",
            "disposition": "active",
            "readPoint": {"id": "urn:epc:id:sgln:0307420.00001.1"},
            "bizLocation": {"id": "urn:epc:id:sgln:0307420.00001.0"},
            "ilmd": {"cbvmda:lotNumber": "LOT1", "cbvmda:itemExpirationDate": "2028-06-30"},
        },
        "event_hash": f"ni:///sha-256;{n:064x}?ver=CBV2.0",
        "namespaces": {"cbvmda": "urn:epcglobal:cbv:mda"},
        "source": {
            "document": "line1-2030-01-05.jsonld",
            "sha256": f"{n:064x}",
            "index": n % 1000,
            "syntax": "json-ld",
            "epcis_version": "2.0",
        },
    }
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def build(repo: Repository, records: int) -> None:
    """``records`` log records over January 2030 (31 days), in transactions of 50,000."""
    span_us = 31 * 86400 * 1_000_000
    step = span_us // records
    done = 0
    t0 = 1_893_456_000 * 1_000_000  # 2030-01-01T00:00:00Z in microseconds
    while done < records:
        with repo.write() as (_conn, log):
            for n in range(done, min(records, done + 50_000)):
                us = t0 + n * step
                secs, micro = divmod(us, 1_000_000)
                at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{micro:06d}Z"
                if n % 1000 == 7:
                    log.append(
                        "auth.login", {"user": "oscar", "method": "password"}, "oscar", "log-in", at
                    )
                elif n % 5000 == 11:
                    body = {"user": "oscar", "why": "log-in: wrong password", "locked": False}
                    log.append("auth.failure", body, "system", "log-in", at)
                elif n % 20000 == 13:
                    body = {
                        "source": "capture",
                        "type": "rejected",
                        "severity": "major",
                        "reason": "unknown product",
                        "identifiers": [],
                    }
                    log.append("exception", body, "system", "capture rejected", at)
                else:
                    log.append("epcis.event", _event(n), "line1", "capture", at)
                if n % 10_000 == 0:
                    log.flush()
        done = min(records, done + 50_000)
    with repo.write() as (_conn, log):  # the month is over
        log.append("auth.logout", {"user": "oscar", "why": "log-out"}, "oscar", "log-out", END)


def main() -> int:
    ap = argparse.ArgumentParser(prog="bench/review_bench.py", description=__doc__)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sv-reviewbench-"))
    db = str(tmp / "r.db")
    repo = Repository.open(db, must_exist=False)
    repo.init("ada")
    for user, name, roles, kind in (
        ("ada", "Ada Admin", ["admin"], "person"),
        ("quinn", "Quinn QA", ["qa"], "person"),
        ("oscar", "Oscar Operator", ["operator"], "person"),
        ("line1", "Packaging line 1", ["service"], "service"),
    ):
        pw = None if kind == "service" else (PASSWORD if user == "ada" else "handed-over-2026")
        create_account(
            repo,
            "ada",
            user_id=user,
            name=name,
            roles=roles,
            kind=kind,
            password=pw,
            reason="bench",
        )
    login(repo, tmp / "first", "quinn", "handed-over-2026", new_password=PASSWORD)
    home = tmp / "home"
    login(repo, home, "quinn", PASSWORD)
    t = time.perf_counter()
    build(repo, args.records)
    built = time.perf_counter() - t
    settings = Settings(db=db, home=home)
    whole: list[float] = []
    passes: list[float] = []
    flagged = 0
    for i in range(args.repeat):
        t = time.perf_counter()
        with repo.read() as conn:
            first, last = store.period_bounds(conn, START, END)
            assert first is not None
            prev = chain_hash_at(conn, first - 1) or ""
            tally = AuditTally(policy_at(repo, END).policy, {}, prev_seq=first - 1, prev_chain=prev)
            tally.feed(store.stream_log(conn, first, last))
        passes.append(time.perf_counter() - t)
        assert tally.broken is None, tally.broken
        t = time.perf_counter()
        res = audit_review(settings, db, start=START, end=END, out=tmp / f"review-{i}")
        whole.append(time.perf_counter() - t)
        flagged = res.summary["flagged"]
        records = res.summary["records"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(
        f"audit-trail review benchmark: {records:,} records in the period ({flagged:,} flagged),"
        f" SQLite, log built in {built:.1f} s, {args.repeat} runs, {when}"
    )
    print("| measure | median s | runs s | under 30 s |")
    print("| --- | --- | --- | --- |")
    for name, ts in (
        ("audit review (whole: stream, chain, classify, files, record)", whole),
        ("streaming pass alone (read, chain, classify)", passes),
    ):
        med = statistics.median(ts)
        runs = " / ".join(f"{x:.2f}" for x in ts)
        print(f"| {name} | {med:.2f} | {runs} | {'yes' if med <= LIMIT_S else '**no**'} |")
    print(f"peak RSS of the process: {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
