"""Evidently's HTML report of LLM traffic drift: its own offline text descriptors plus ours.

Evidently computes TextLength, WordCount, SentenceCount and NonLetterCharacterPercentage of the
prompt and the answer and a refusal RegExp on the answer (all offline; its OOV, BERTScore and
HuggingFace descriptors download models and are not used); our language, question type, PII,
OOV and topic columns are added as they are. TextEvals shows Evidently's descriptors on both sides,
DataDriftPreset runs its drift tests on ours. Sides longer than `max_rows` are sampled (seeded).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ops_pipelines.lib.llmops.traffic import CATEGORICAL, NUMERIC

REFUSAL_PATTERN = r"(?i)^\W*(i'?m sorry|i am sorry|unfortunately|i can(no|')?t|as an ai)"


def _sample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    if len(frame) <= max_rows:
        return frame.reset_index(drop=True)
    rows = np.sort(np.random.default_rng(seed).choice(len(frame), max_rows, replace=False))
    return frame.iloc[rows].reset_index(drop=True)


def _prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """Evidently wants plain dtypes: texts as str (missing answers empty), flags as strings."""
    out = pd.DataFrame({"question": frame["question"].fillna("").astype(str), "answer": frame["answer"].fillna("").astype(str)})
    for name in NUMERIC:
        out[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    for name in [*CATEGORICAL, "topic"]:
        out[name] = frame[name].astype(object).where(frame[name].notna(), "n/a").astype(str)
    return out


def save_traffic_report(rows: pd.DataFrame, path: str | Path, max_rows: int = 5_000, seed: int = 0) -> Path:
    """Write the report for one group's rows (`side` = reference / current, texts, descriptors, topic)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.descriptors import NonLetterCharacterPercentage, RegExp, SentenceCount, TextLength, WordCount
    from evidently.presets import DataDriftPreset, TextEvals

    sides = {side: _prepare(_sample(rows[rows["side"] == side], max_rows, seed)) for side in ("reference", "current")}
    if not len(sides["reference"]) or not len(sides["current"]):
        raise ValueError("a traffic report needs rows on both sides")
    ours_num = [c for c in NUMERIC if sides["reference"][c].notna().any() and sides["current"][c].notna().any()]
    definition = DataDefinition(text_columns=["question", "answer"], numerical_columns=ours_num,
                                categorical_columns=[*CATEGORICAL, "topic"])

    # Evidently's NonLetterCharacterPercentage divides by the text's length: only where none is empty.
    nonempty = {col: all((f[col] != "").all() for f in sides.values()) for col in ("question", "answer")}

    def descriptors() -> list:
        out = []
        for col in ("question", "answer"):
            out += [TextLength(col, alias=f"{col} length"), WordCount(col, alias=f"{col} word count"),
                    SentenceCount(col, alias=f"{col} sentence count")]
            if nonempty[col]:
                out.append(NonLetterCharacterPercentage(col, alias=f"{col} non-letter %"))
        return out + [RegExp("answer", reg_exp=REFUSAL_PATTERN, alias="answer opens with a refusal")]

    datasets = {side: Dataset.from_pandas(frame[["question", "answer", *ours_num, *CATEGORICAL, "topic"]],
                                          data_definition=definition, descriptors=descriptors())
                for side, frame in sides.items()}
    drift_columns = [*ours_num, *CATEGORICAL, "topic"]
    # TextEvals on Evidently's descriptors only: ours are in DataDriftPreset with both sides' distributions already,
    # and a second plot of each would cost about a third of the report's time.
    evidently_descriptors = [d.alias for d in descriptors()]
    snapshot = Report([TextEvals(columns=evidently_descriptors), DataDriftPreset(columns=drift_columns)]).run(
        current_data=datasets["current"], reference_data=datasets["reference"])
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(out))
    return out
