"""Which days' HTML reports the drift assets write (their `html_report` config).

Evidently's HTML report costs seconds a model or group (plus its import), the better part of a calm
day's drift work, while the day's numbers are in the asset's table and metadata either way:
`drifted` (default) writes one where something drifted, `all` every day, `none` never.
"""

REPORT_POLICIES = ("drifted", "all", "none")


def checked(policy: str) -> str:
    """The policy, or a clear error naming the allowed ones."""
    if policy not in REPORT_POLICIES:
        raise ValueError(f"html_report={policy!r} is not one of {', '.join(REPORT_POLICIES)}")
    return policy


def wants_report(policy: str, drifted: bool) -> bool:
    return policy == "all" or (policy == "drifted" and drifted)
