"""The scheduler: fires due timers and sends overdue reminders, in any number of processes at once.

It runs as a daemon thread inside every app process (started by `create_app` unless
ALUR_SCHEDULER=0) and as `alur scheduler` for a separate process. Claims in the database
make running several of them safe (engine/timers.py).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from typing import TYPE_CHECKING

from engine import reminders, timers

if TYPE_CHECKING:
    from engine.services import Alur

log = logging.getLogger("alur.scheduler")


class Scheduler:
    def __init__(self, alur: Alur, owner: str | None = None) -> None:
        self.alur = alur
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stopping = threading.Event()

    def run_once(self) -> int:
        """Fire what is due now and send due reminders; returns how many timers fired."""
        fired = 0
        while not self.stopping.is_set():
            claimed = timers.claim(self.alur, self.owner)
            for timer_id in claimed:
                try:
                    fired += timers.fire(self.alur, timer_id, self.owner)
                except Exception:  # the claim's lease runs out and the timer is tried again
                    log.exception("timer %s gagal dijalankan; dicoba lagi setelah lease habis", timer_id)
            if len(claimed) < 20:
                break
        try:
            reminders.remind_overdue(self.alur)
        except Exception:
            log.exception("pengingat tugas terlambat gagal")
        return fired

    def run(self) -> None:
        """Poll until stopped; an error in one round never stops the next."""
        while not self.stopping.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("putaran penjadwal gagal")
            self.stopping.wait(self.alur.settings.scheduler_poll_seconds)

    def stop(self) -> None:
        self.stopping.set()


def start_thread(alur: Alur) -> Scheduler:
    """Run a scheduler as a daemon thread of this process."""
    scheduler = Scheduler(alur)
    threading.Thread(target=scheduler.run, name="alur-scheduler", daemon=True).start()
    return scheduler
