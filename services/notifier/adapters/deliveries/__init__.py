"""The delivery ledger: the one place that reads and writes the ``deliveries`` table (and the
answers that hang off its rows), always inside the caller's transaction: a repository never
begins, commits or rolls back. One class, ``Deliveries``, assembled from one module per concern
so that no file grows past a screenful or two:

* ``send_queue``: claims, leases, outcomes, new rows, what a dispatcher's batch reads;
* ``provider_states``: what SMS providers report after accepting a message (rank-guarded);
* ``member_records``: a member's sends and answers (SMS replies, export, erasure, retention);
* ``weeks``: what a week's release to insights reads;
* ``log``: the operators' delivery log (a fixed list of columns, newest first).
"""

from __future__ import annotations

from services.notifier.adapters.deliveries.log import (
    LOGGED_COLUMNS,
    DeliveryFilter,
    DeliveryLog,
    DeliveryPage,
    Position,
)
from services.notifier.adapters.deliveries.member_records import Answer, MemberRecords
from services.notifier.adapters.deliveries.provider_states import ProviderStates
from services.notifier.adapters.deliveries.send_queue import SendQueue
from services.notifier.adapters.deliveries.weeks import WeekAnswer, WeekRecords


class Deliveries(SendQueue, ProviderStates, MemberRecords, WeekRecords, DeliveryLog):
    """``Deliveries(session)``: every statement on ``deliveries``, in the caller's session."""


__all__ = [
    "LOGGED_COLUMNS",
    "Answer",
    "Deliveries",
    "DeliveryFilter",
    "DeliveryPage",
    "Position",
    "WeekAnswer",
]
