"""The live processes of this machine, read from /proc, for tests that check what a command left running."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple


class Proc(NamedTuple):
    pid: int
    ppid: int
    state: str  # "Z" is a zombie: it has ended, its parent has not reaped it yet
    cmdline: str

    def environ(self) -> list[bytes]:
        """Its environment as NAME=value entries; empty once it is gone or when it is not ours to read."""
        try:
            return Path(f"/proc/{self.pid}/environ").read_bytes().split(b"\0")
        except OSError:
            return []


def processes() -> list[Proc]:
    """Every process that is live while /proc is read (one that ends meanwhile is left out)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            # The command name in stat may hold spaces and ")": the fields after the last ")" are fixed.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            found.append(Proc(int(entry.name), int(fields[1]), fields[0], cmdline))
        except (OSError, IndexError, ValueError):
            continue
    return found
