"""Format defaults kept free of heavy imports: the Dagster resource reads them at load time."""

DEFAULT_LOG_PATTERN = r"^(?P<timestamp>\S+)\s+(?P<level>[A-Za-z]+)\s+\[(?P<service>[^\]]+)\]\s+(?P<host>\S+)\s+(?P<message>.*)$"
LEVEL_ALIASES = {"WARNING": "WARN", "ERR": "ERROR", "FATAL": "CRITICAL", "CRIT": "CRITICAL", "TRACE": "DEBUG"}
# A line longer than this (in bytes, newline excluded) is quarantined as `line_too_long`: no
# export writes 1 MiB rows on purpose, and one runaway line must not cost the whole file.
DEFAULT_MAX_LINE_BYTES = 1 << 20
# A numeric value beyond this magnitude is quarantined as `out_of_range`: no latency, count, price
# or utilisation is near it, while 1e308 would overflow every sum of squares downstream.
DEFAULT_MAX_ABS_VALUE = 1e15
