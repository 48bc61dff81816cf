"""Print one drill's verdict, measured RTO/RPO and evidence paths (``make demo``)."""

import json
import sys

d = json.load(sys.stdin)
m = d["measured"]
name = d["plan"]["scenario"]["name"]
print(f"{name:>16}: {d['verdict'].upper():<12} RTO {m['rto_s']} s, RPO {m['rpo_records']} records")
print(f"{'':>18}report  {d['evidence']['report_html']}")
print(f"{'':>18}        {d['evidence']['report_pdf']}")
print(f"{'':>18}package {d['evidence']['zip']}")
