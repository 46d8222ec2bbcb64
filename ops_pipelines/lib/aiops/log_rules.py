"""What a log line's level and wording say about how much it matters, before any rate is learned.

Severity ranks put every level name on one scale. Two kinds of CRITICAL line are not events of their
own: the fields of a diagnostic dump (a register or state dump printed after a fatal event: one
name and one value per line) are context of the event that printed them, and a failure caused by what
the caller asked for (a missing or forbidden file, an invalid argument: the errno texts below) is the
caller's error, like an HTTP 4xx, so it is judged as an ERROR (by its rate), not as an alert.
Both rules read the wording only, never a list of known messages, so they hold for unseen systems.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

DEBUG, INFO, WARN, ERROR, CRITICAL = 0, 1, 2, 3, 4
# Level names as systems write them (upper-cased); java.util.logging's SEVERE is its error level.
# Unknown names rank as INFO: a level we cannot read is no evidence of severity.
SEVERITY = {
    "TRACE": DEBUG, "DEBUG": DEBUG, "FINE": DEBUG, "FINER": DEBUG, "FINEST": DEBUG,
    "INFO": INFO, "NOTICE": INFO, "CONFIG": INFO,
    "WARN": WARN, "WARNING": WARN,
    "ERROR": ERROR, "ERR": ERROR, "SEVERE": ERROR, "FAILURE": ERROR,
    "CRITICAL": CRITICAL, "CRIT": CRITICAL, "FATAL": CRITICAL, "ALERT": CRITICAL, "EMERG": CRITICAL,
    "EMERGENCY": CRITICAL, "PANIC": CRITICAL,
}

_VALUE = r"(?:0x[0-9a-fA-F]+|[0-9a-fA-F]*\d[0-9a-fA-F]*|[-+]?\d+(?:\.\d+)?)"
# One field of a dump: `name....value` (padding dots), `name: value`, `k:v k:v ...`, a `section:`
# header, or a row of bare values. The name is short and the value one token, so a sentence that
# happens to end in a number ("retrying in 5") or a port ("to 10.0.0.7:5432") is no dump field.
DUMP_FIELD = re.compile(
    rf"^\s*(?:"
    rf"[^\s].{{0,60}}?\.{{2,}}\s*{_VALUE}"
    rf"|[A-Za-z][\w ()/=,.-]{{0,60}}:\s+{_VALUE}"
    rf"|(?:[A-Za-z]\w*\s*[:=]\s*{_VALUE}\s+){{1,}}[A-Za-z]\w*\s*[:=]\s*{_VALUE}"
    rf"|[A-Za-z][\w ()/,-]{{0,60}}:"
    rf"|{_VALUE}(?:[\s,]+{_VALUE})*"
    rf")\s*$"
)
# strerror texts of the errno values that mean "the caller asked for something missing, forbidden or
# invalid" (ENOENT, EACCES, EPERM, EBADF, ENOTBLK, ENOTDIR, EISDIR, EINVAL, ENOEXEC, ENAMETOOLONG,
# EEXIST), written from errno's meaning. Faults of the system itself (EIO, ENOMEM, ENOSPC, ECHILD,
# ETIMEDOUT, ECONNRESET, ...) are deliberately absent.
CALLER_ERROR = re.compile(
    r"no such file or directory|permission denied|operation not permitted|bad file descriptor"
    r"|block device required|not a directory|is a directory|invalid argument|exec format error"
    r"|file name too long|file exists",
    re.IGNORECASE,
)


def severity(levels: pd.Series | list[str]) -> np.ndarray:
    """Rank of each level name (DEBUG 0 .. CRITICAL 4); unknown names rank as INFO."""
    names = pd.Series(levels, dtype=object).astype(str).str.strip().str.upper()
    return names.map(SEVERITY).fillna(INFO).to_numpy(dtype=np.int64)


def most_severe(levels: list[str]) -> str:
    """The level name of highest rank (the first one written among equals)."""
    ranks = severity(levels)
    return levels[int(np.argmax(ranks))]


def is_dump_field(messages: pd.Series) -> np.ndarray:
    """True where a message is one field of a diagnostic dump (name and value), not an event."""
    return pd.Series(messages, dtype=object).astype(str).str.match(DUMP_FIELD).to_numpy(dtype=bool)


def is_caller_error(messages: pd.Series) -> np.ndarray:
    """True where a message reports an errno that means the caller's request was at fault."""
    return pd.Series(messages, dtype=object).astype(str).str.contains(CALLER_ERROR).to_numpy(dtype=bool)
