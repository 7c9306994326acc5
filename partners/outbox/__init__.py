"""The outbox: every push of every module to every partner goes through here (ARCHITECTURE.md "Outbox").

outbox_enqueue(module=..., object_id=..., hint=..., partners=None)   # inside the change's transaction
register_module(module, audience=..., push=..., snapshot=...)         # in each app's AppConfig.ready()
partner_initial_sync(partner=..., modules=None)                       # every object a new partner should hold
"""

from .hints import hint_merge, hint_normalize
from .initial_sync import INITIAL_SYNC_MODULES, partner_initial_sync
from .registry import (
    CPO_DATA_RECEIVER_ROLES,
    OutboxModule,
    PushResult,
    UnknownOutboxModule,
    get_module,
    partner_party,
    register_module,
    registered_modules,
    unregister_module,
)
from .selectors import outbox_stats, partner_list_with_outbox_counts
from .services import (
    outbox_dead_letter,
    outbox_deliver,
    outbox_enqueue,
    outbox_pump,
    outbox_purge_finished,
    outbox_requeue_due,
    outbox_retry,
    outbox_setting,
    outbox_wake_party,
)

__all__ = [
    "CPO_DATA_RECEIVER_ROLES",
    "INITIAL_SYNC_MODULES",
    "OutboxModule",
    "PushResult",
    "UnknownOutboxModule",
    "get_module",
    "hint_merge",
    "hint_normalize",
    "outbox_dead_letter",
    "outbox_deliver",
    "outbox_enqueue",
    "outbox_pump",
    "outbox_purge_finished",
    "outbox_requeue_due",
    "outbox_retry",
    "outbox_setting",
    "outbox_stats",
    "outbox_wake_party",
    "partner_initial_sync",
    "partner_list_with_outbox_counts",
    "partner_party",
    "register_module",
    "registered_modules",
    "unregister_module",
]
