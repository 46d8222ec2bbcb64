"""Offline language identification of prompts and answers (CLD2 through `pycld2`, model in the wheel).

CLD2 says when it is not sure (too short, mixed, unknown script): those texts are `und`
(undetermined) rather than a guess, so a day of one-word prompts shows as more `und`, not as a
sudden switch to some other language. Fast (a few microseconds per text), deterministic, no network.
"""

from __future__ import annotations

from functools import lru_cache

UNDETERMINED = "und"


@lru_cache(maxsize=100_000)
def language(text: str | None) -> str:
    """ISO 639-1 code of the text's language (`en`, `de`, ...), or `und` when CLD2 is not reliable."""
    if not isinstance(text, str) or not text.strip():
        return UNDETERMINED
    import pycld2

    # CLD2 reads UTF-8 bytes: lone surrogates (broken exports) would make it raise.
    clean = text.encode("utf-8", errors="replace").decode("utf-8")
    try:
        reliable, _, found = pycld2.detect(clean)
    except pycld2.error:  # control bytes it rejects: not worth a crash, only an unknown language
        return UNDETERMINED
    code = found[0][1]
    return code if reliable and code != "un" else UNDETERMINED
