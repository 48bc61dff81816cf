"""Who may do what: roles, the actions they grant, and the account rules (pure).

21 CFR 11.10(d) limits system access to authorised individuals and 11.10(g) asks for
authority checks, so every operation that changes data names one :class:`Action`, and
the use-case layer refuses a user whose roles do not grant it — by naming the roles that
would. The matrix is here, once, as data, so the CLI, the HTTP API and the tests read
the same table (EU GMP Annex 11 (2025 draft) §11: least privilege, personal accounts).

Roles (DESIGN.md "Security"):

``operator``  captures EPCIS, works on exceptions and performs rework on the line.
``qa``        approves, reviews (audit trail, access), signs off, closes exceptions,
              owns CAPAs.
``auditor``   reads everything, changes nothing.
``admin``     manages users, backups, restores and configuration.
``service``   the role of a line system's account: capture and serial allocation only,
              by token only, and no signature rights (a machine cannot make a Part 11
              signature).

Account state is a pure function of the account's log records too: lockout after N
consecutive failures (11.300(d)), password rules (11.300(b)), the meanings a signature
may carry (11.50(a)(3)).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

ROLES: tuple[str, ...] = ("operator", "qa", "auditor", "admin", "service")
#: Roles a person's account may hold; ``service`` belongs to service accounts only.
PERSON_ROLES: tuple[str, ...] = ("operator", "qa", "auditor", "admin")

#: The meanings a signature may carry (21 CFR 11.50(a)(3)).
MEANINGS: tuple[str, ...] = ("authored", "reviewed", "approved", "responsible", "verified")


class Action(Enum):
    """An operation that needs authority; its value is how messages name it."""

    READ = "read the repository"
    CAPTURE = "capture EPCIS events"
    MASTERDATA = "propose master-data changes"
    APPROVE = "approve or reject changes"
    MANAGE_USERS = "manage user accounts"
    BACKUP = "take or prune backups"
    RESTORE = "restore a repository"
    MAINTAIN = "rebuild projections or migrate the schema"
    DRILL = "plan and run backup/restore drills"
    RECONCILE = "run reconciliation"
    SIGN_OFF = "sign off drill evidence and approve"
    CONFIGURE = "change configuration"
    EXCEPTIONS = "open and work on exceptions"
    CLOSE_EXCEPTIONS = "close or reopen exceptions"
    REWORK = "rework units and containers"
    CAPA = "record and update CAPAs"
    REVIEW = "review the audit trail and the accounts"
    INSPECT = "write inspection packs"
    SERIAL_POOLS = "create serial number pools"
    SERIALS = "allocate and return serial numbers"


#: The one table of authority: which roles grant each action.
GRANTS: dict[Action, frozenset[str]] = {
    Action.READ: frozenset({"operator", "qa", "auditor", "admin"}),
    Action.CAPTURE: frozenset({"operator", "service"}),
    Action.MASTERDATA: frozenset({"operator", "qa", "admin"}),
    Action.APPROVE: frozenset({"qa"}),
    Action.MANAGE_USERS: frozenset({"admin"}),
    Action.BACKUP: frozenset({"admin"}),
    Action.RESTORE: frozenset({"admin"}),
    Action.MAINTAIN: frozenset({"admin"}),
    Action.DRILL: frozenset({"admin", "qa"}),
    Action.RECONCILE: frozenset({"admin", "qa"}),
    Action.SIGN_OFF: frozenset({"qa"}),
    Action.CONFIGURE: frozenset({"admin"}),
    Action.EXCEPTIONS: frozenset({"operator", "qa", "admin"}),
    Action.CLOSE_EXCEPTIONS: frozenset({"qa"}),
    Action.REWORK: frozenset({"operator"}),
    Action.CAPA: frozenset({"qa"}),
    # Annex 11 §9, (2025 draft) §11: periodic reviews are QA's, made and signed by qa
    Action.REVIEW: frozenset({"qa"}),
    Action.INSPECT: frozenset({"qa", "admin"}),
    # a pool fixes a product's serial format and its EU FMD guessing bound: set by those
    # who own configuration and quality, not by the line that draws from it
    Action.SERIAL_POOLS: frozenset({"qa", "admin"}),
    # a line (its operator, or the line system's service account) draws serials for a
    # batch and hands back what it did not use
    Action.SERIALS: frozenset({"operator", "service", "admin"}),
}


def permitted(roles: Iterable[str]) -> frozenset[Action]:
    """Every action the roles grant together.

    >>> sorted(a.name for a in permitted(["auditor"]))
    ['READ']
    >>> Action.SIGN_OFF in permitted(["admin", "operator"])
    False
    """
    held = set(roles)
    return frozenset(a for a, who in GRANTS.items() if held & who)


def roles_granting(action: Action) -> str:
    """The roles that grant ``action``, for a refusal message (``qa or admin``)."""
    names = [r for r in ROLES if r in GRANTS[action]]
    return " or ".join(names)


def check_roles(kind: str, roles: Iterable[str]) -> str | None:
    """Why ``roles`` cannot be held by an account of ``kind`` (``None`` if they can).

    >>> check_roles("service", ["service"]) is None
    True
    >>> check_roles("person", ["service"])
    "role 'service' belongs to service accounts; a person holds operator, qa, auditor or admin"
    """
    held = list(roles)
    unknown = [r for r in held if r not in ROLES]
    if unknown:
        return f"unknown role {unknown[0]!r}: the roles are {', '.join(ROLES)}"
    if kind == "service":
        if held != ["service"]:
            return "a service account holds the role 'service' only (capture, by token)"
        return None
    if "service" in held:
        return (
            "role 'service' belongs to service accounts; a person holds "
            + ", ".join(PERSON_ROLES[:-1])
            + " or "
            + PERSON_ROLES[-1]
        )
    if not held:
        return "an account needs at least one role"
    return None


@dataclass(frozen=True, slots=True)
class IdentityPolicy:
    """The password and session rules (21 CFR 11.300; Annex 11 §11).

    ``lockout_after`` consecutive failures lock the account until an admin enables it
    or, with ``lockout_minutes`` above 0, until that time has passed (so that nobody can
    lock the last admin out for good by guessing at their id);
    ``history`` is how many earlier passwords may not be used again; ``idle_minutes`` ends
    a session nobody used for that long, ``session_hours`` ends any session.
    """

    min_length: int = 12
    history: int = 5
    lockout_after: int = 5
    lockout_minutes: int = 30
    idle_minutes: int = 15
    session_hours: int = 12

    def password_problem(self, user_id: str, name: str, password: str) -> str | None:
        """Why ``password`` may not be used by this user (``None`` if it may); the check
        against earlier passwords needs their hashes and is the caller's.

        >>> IdentityPolicy().password_problem("jdoe", "Jane Doe", "short")
        'the password is 5 characters long; the policy asks for at least 12'
        >>> IdentityPolicy().password_problem("jdoe", "Jane Doe", "xx-JDOE-rules-2026")
        'the password contains the user name'
        """
        if len(password) < self.min_length:
            return (
                f"the password is {len(password)} characters long; the policy asks for at"
                f" least {self.min_length}"
            )
        low = password.casefold()
        if user_id.casefold() in low:
            return "the password contains the user name"
        if any(len(part) >= 3 and part.casefold() in low for part in name.split()):
            return "the password contains part of the user's full name"
        if password != password.strip():
            return "the password begins or ends with white space"
        return None

    def to_dict(self) -> dict[str, int]:
        return {
            "min_length": self.min_length,
            "history": self.history,
            "lockout_after": self.lockout_after,
            "lockout_minutes": self.lockout_minutes,
            "idle_minutes": self.idle_minutes,
            "session_hours": self.session_hours,
        }


#: What a user id may look like: it names a person in every record for years, so it is
#: plain, short and case-folded (``J.Doe`` and ``j.doe`` are one id).
USER_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")


def user_id_problem(user_id: str) -> str | None:
    """Why ``user_id`` cannot be a user id (``None`` if it can).

    >>> user_id_problem("j.doe") is None
    True
    >>> user_id_problem("J Doe")
    "user id 'J Doe': use 2 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter"
    """
    ok = (
        2 <= len(user_id) <= 64
        and user_id[0].isascii()
        and user_id[0].isalpha()
        and user_id[0].islower()
        and set(user_id) <= USER_ID_CHARS
    )
    if ok:
        return None
    return f"user id {user_id!r}: use 2 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter"
