"""What a killed backup or restore leaves beside a SQLite repository, and its removal.

A full backup of SQLite writes its snapshot to ``.NAME.backup-PID.tmp`` and a restore
builds ``NAME.restoring-PID``; after ``kill -9`` (or a power cut) those files stay, as
large as the repository. The next run removes the ones whose process no longer runs and
says so — silently keeping them fills the disk, silently removing them hides that a run
was interrupted.
"""

from __future__ import annotations

import os
import re
from pathlib import Path


def alive(pid: int) -> bool:
    """Whether a process ``pid`` runs (one we may not signal counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_dead(folder: Path, pattern: re.Pattern[str], what: str) -> list[str]:
    """Remove files in ``folder`` whose name matches ``pattern`` (group ``pid``) when that
    process is gone; one line per file removed."""
    if not folder.is_dir():
        return []
    out: list[str] = []
    for p in sorted(folder.iterdir()):
        m = pattern.fullmatch(p.name)
        if m is None or alive(int(m.group("pid"))) or not p.is_file():
            continue
        try:
            size = p.stat().st_size
            p.unlink()
        except OSError:
            continue
        out.append(f"removed {p.name} ({size:,} bytes) left by an interrupted {what}")
    return out


def clean_backup_snapshots(db: Path) -> list[str]:
    """Snapshot files of full backups of ``db`` that were killed."""
    pat = re.compile(rf"\.{re.escape(db.name)}\.backup-(?P<pid>\d+)\.tmp(-journal|-wal|-shm)?")
    return remove_dead(db.parent, pat, "backup")


def clean_restores(db: Path) -> list[str]:
    """Files of restores into ``db`` that were killed."""
    pat = re.compile(rf"{re.escape(db.name)}\.restoring-(?P<pid>\d+)(-journal|-wal|-shm)?")
    return remove_dead(db.parent, pat, "restore")
