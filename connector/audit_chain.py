"""The hash chain over the audit trail: proof that no row was changed, removed or slipped in.

Writers never wait for the chain: a row is inserted as before, and a beat job
(``mlc.audit.seal``) later seals every row written since the last seal into one link,
``hash = sha256(previous hash, then each row's id and digest in id order)``. ``ml-connector
audit verify`` recomputes every row's digest and every link. A row's digest covers all its
columns, its sealed personal fields as ciphertext: destroying a data subject's key (erasure)
changes no row, so the chain still verifies after it.

The newest seal's hash is logged by the job; kept outside the database (a log archive), it also
shows that no seal was removed from the end.

A link covers only rows whose transactions are over: on PostgreSQL, ids are handed out before
commit, so the sealer takes the table's SHARE ROW EXCLUSIVE lock for one ``SELECT max(id)`` (it
waits for the inserts in flight and holds new ones back only that long), and every id up to that
maximum is then committed or never will be. SQLite has one writer at a time.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import timezone

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from connector.models import AuditEvent, AuditSeal

GENESIS = "0" * 64
#: The most rows one link covers; a backlog is sealed in several.
LINK_ROWS = 5000
_LOCK_TIMEOUT = "5s"


def row_digest(row: AuditEvent) -> str:
    """SHA-256 of every column of the row, in a form that reads the same on every dialect."""
    fields = [row.id, row.occurred_at.astimezone(timezone.utc).isoformat(), row.shop_id, row.subject_kind,
              row.subject_id, row.action, row.detail, row.key_id,
              row.sealed.decode("ascii") if row.sealed is not None else None]
    encoded = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


def _link_hash(previous: str, rows: list[AuditEvent]) -> str:
    digest = hashlib.sha256(previous.encode())
    for row in rows:
        digest.update(f"\n{row.id}:{row_digest(row)}".encode())
    return digest.hexdigest()


def seal(session: Session) -> list[AuditSeal]:
    """Seal every settled row not sealed yet; returns the new links (none if there was nothing
    to seal, or if another sealer extended the chain first). Commits."""
    made: list[AuditSeal] = []
    upto = _settled_max_id(session)
    while upto is not None:
        last = session.scalar(select(AuditSeal).order_by(AuditSeal.id.desc()).limit(1))
        after, previous = (last.last_event_id, last.hash) if last is not None else (0, GENESIS)
        rows = list(session.scalars(select(AuditEvent).where(AuditEvent.id > after, AuditEvent.id <= upto)
                                    .order_by(AuditEvent.id).limit(LINK_ROWS)))
        if not rows:
            session.commit()
            break
        link = AuditSeal(first_event_id=rows[0].id, last_event_id=rows[-1].id, events=len(rows),
                         previous_hash=previous, hash=_link_hash(previous, rows))
        session.add(link)
        try:
            session.commit()
        except IntegrityError:  # another sealer extended the chain from the same link
            session.rollback()
            break
        made.append(link)
        session.expunge_all()  # the rows just hashed can be many: do not keep them
    return made


def _settled_max_id(session: Session) -> int | None:
    """The highest audit id below which no insert is still in flight (None: skip this round)."""
    if session.get_bind().dialect.name == "postgresql":
        try:
            session.execute(text(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'"))
            session.execute(text("LOCK TABLE audit_events IN SHARE ROW EXCLUSIVE MODE"))
        except OperationalError:  # a long transaction holds an insert open: next round
            session.rollback()
            return None
    upto = session.scalar(select(func.max(AuditEvent.id)))
    session.commit()  # releases the lock at once
    return upto


@dataclass
class Verification:
    links: int = 0
    sealed_events: int = 0
    unsealed_events: int = 0     # written after the newest seal: not covered yet
    head: str = GENESIS          # the newest seal's hash
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session) -> Verification:
    """Recompute every link from the rows it covers; a problem names the link and what differs."""
    result = Verification()
    previous, after = GENESIS, 0
    for link in session.scalars(select(AuditSeal).order_by(AuditSeal.id)).all():
        if link.previous_hash != previous:
            result.problems.append(f"seal {link.id} does not follow seal hash {previous[:12]}…")
        rows = list(session.scalars(select(AuditEvent).where(AuditEvent.id > after,
                                                             AuditEvent.id <= link.last_event_id)
                                    .order_by(AuditEvent.id)))
        if len(rows) != link.events:
            result.problems.append(f"seal {link.id} covers {link.events} rows up to id {link.last_event_id}, "
                                   f"{len(rows)} are there")
        elif _link_hash(link.previous_hash, rows) != link.hash:
            result.problems.append(f"seal {link.id}: a row between ids {link.first_event_id} and "
                                   f"{link.last_event_id} was changed")
        session.expunge_all()
        result.links += 1
        result.sealed_events += len(rows)
        previous, after = link.hash, link.last_event_id
    result.head = previous
    result.unsealed_events = session.scalar(select(func.count()).select_from(AuditEvent)
                                            .where(AuditEvent.id > after)) or 0
    return result
