"""Screens of the dashboard: the session, the picker, and the action forms."""

from .bulk_replay import BulkReplayModal, BulkReplayRequest
from .fire import FireModal, FireRequest
from .help import HelpScreen
from .picker import PickerScreen
from .replay import ReplayModal, ReplayRequest
from .session import SessionScreen
from .skip import SkipModal, SkipRequest

__all__ = [
    "BulkReplayModal",
    "BulkReplayRequest",
    "FireModal",
    "FireRequest",
    "HelpScreen",
    "PickerScreen",
    "ReplayModal",
    "ReplayRequest",
    "SessionScreen",
    "SkipModal",
    "SkipRequest",
]
