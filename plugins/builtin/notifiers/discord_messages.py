"""Which Discord message shows which incident, kept across restarts in a small JSON file
under the plugin's folder (``<home>/discord/incident-messages.json``), so an incident that
grows after a restart still edits its one message."""

from __future__ import annotations

import json
import os
from pathlib import Path

import trio

KEEP = 500  # the newest incidents' messages (older incidents no longer grow)


class MessageBook:
    def __init__(self, folder: Path | None) -> None:
        self.path = folder / "incident-messages.json" if folder is not None else None
        self.ids: dict[str, str] = {}
        if self.path is not None and self.path.exists():
            try:
                loaded = json.loads(self.path.read_text())
                self.ids = {str(k): str(v) for k, v in loaded.items()} \
                    if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                self.ids = {}  # unreadable: updates fall back to new messages

    def get(self, incident: int, webhook: str) -> str | None:
        return self.ids.get(f"{incident}:{webhook}")

    async def put(self, incident: int, webhook: str, message_id: str) -> None:
        key = f"{incident}:{webhook}"
        self.ids.pop(key, None)
        self.ids[key] = message_id
        while len(self.ids) > KEEP:
            del self.ids[next(iter(self.ids))]
        if self.path is not None:
            await trio.to_thread.run_sync(self._write, dict(self.ids))

    def _write(self, ids: dict[str, str]) -> None:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(ids))
        os.replace(tmp, self.path)  # a crash leaves the old file or the new one
