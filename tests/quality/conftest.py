"""A site with the people of the quality loop: an operator, two qa users, an admin.

Each person has a session home of their own, so each call below is made *as* that
person — the same authentication and role checks the commands apply."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from serialvault.settings import Settings
from serialvault.store.repository import Repository
from tests import builders as b
from tests.accounts import make_repo, sign_in


@dataclass
class Site:
    repo: Repository
    homes: dict[str, Path]

    def as_(self, user: str) -> Settings:
        return Settings(db=self.repo.url, home=self.homes[user])

    @property
    def url(self) -> str:
        return self.repo.url

    def head(self) -> int:
        return self.repo.head().seq

    def capture(self, *events: dict[str, object], name: str = "line.jsonld") -> None:
        from serialvault.store.capture import Capturer

        Capturer(self.repo, actor="olga").capture_bytes(b.document(*events), name)


PEOPLE = {"olga": ["operator"], "quinn": ["qa"], "rita": ["qa"], "adam": ["admin"]}


@pytest.fixture
def site(db_url: str, tmp_path: Path) -> Site:
    repo = make_repo(db_url)
    b.register(repo, b.GTIN)
    homes = {}
    for user, roles in PEOPLE.items():
        homes[user] = tmp_path / f"home-{user}"
        homes[user].mkdir()
        sign_in(repo, user, roles, at=homes[user])
    return Site(repo, homes)
