"""Format defaults kept free of heavy imports: the Dagster resource reads them at load time."""

DEFAULT_LOG_PATTERN = r"^(?P<timestamp>\S+)\s+(?P<level>[A-Za-z]+)\s+\[(?P<service>[^\]]+)\]\s+(?P<host>\S+)\s+(?P<message>.*)$"
LEVEL_ALIASES = {"WARNING": "WARN", "ERR": "ERROR", "FATAL": "CRITICAL", "CRIT": "CRITICAL", "TRACE": "DEBUG"}
