"""Topic mix of prompts: TF-IDF + k-means over the reference window and the day together, named by
terms, plus new topics found by their words.

Reference and current prompts are clustered *together*, so both sides are assigned by the same
in-sample fit (clustering the reference alone and assigning the day would make every day look a
little novel on real data with a long tail of rare prompts). A topic that exists only in the day
still gets a centroid of its own as long as it is not tiny: k-means++ seeds favour points far from
every other seed, and a new topic's words are far from everything in the reference.

Distinct texts are clustered once with their counts as weights (templated traffic repeats itself),
and ids and numbers are not words (`ord-12345678` -> `ord`), so the fit costs little and does not
chase identifiers. Deterministic for a given input and seed.

k-means alone does not reliably give a small new topic a centroid of its own (with a dozen
centroids for many prompt families it may rather split a big family), so new topics are found by
their words: a term is *emerging* when the share of the day's prompts using it is at least
NEW_TOPIC_MIN_SHARE, NEW_TOPIC_MIN_GROWTH times its reference share, and significant after a
Bonferroni correction over every term tested (two-proportion z-test). Emerging terms that occur
in the same prompts (overlap coefficient >= TERM_OVERLAP) form one new topic, named by its most
frequent terms; prompts using its terms are labelled with it on *both* sides, so the topic column
compares like with like.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

DEFAULT_TOPICS = 12
TERMS_PER_TOPIC = 4
NEW_TOPIC_MIN_SHARE = 0.03  # of the day's prompts in the group: smaller is noise, not a topic
NEW_TOPIC_MIN_GROWTH = 3.0  # day share / reference share
NEW_TOPIC_MIN_PROMPTS = 10
TERM_OVERLAP = 0.5
FAMILY_WISE_ERROR = 0.05
TOKEN_PATTERN = r"(?u)\b[^\W\d_]{2,}\b"


@dataclass(frozen=True)
class TopicFit:
    """Topic label per text (reference first, then current, in input order) and each topic's top terms."""

    labels: np.ndarray
    terms: dict[str, list[str]]


def _normalise(text: object) -> str:
    return " ".join(str(text).split()).lower() if isinstance(text, str) else ""


def fit_topics(texts: Sequence[object], k: int = DEFAULT_TOPICS, seed: int = 0) -> TopicFit:
    """Cluster the texts into at most `k` topics; a topic is called `tNN term term term term`.
    Texts without a vocabulary word get the topic `none`."""
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    norm = pd.Series([_normalise(t) for t in texts], dtype=object)
    codes, uniques = pd.factorize(norm, sort=True)  # sorted: the fit does not depend on row order
    weights = np.bincount(codes, minlength=len(uniques)).astype(float)
    vectorizer = TfidfVectorizer(token_pattern=TOKEN_PATTERN, stop_words="english", sublinear_tf=True,
                                 min_df=1, dtype=np.float64)
    try:
        matrix = vectorizer.fit_transform(list(uniques))
    except ValueError:  # no vocabulary word at all
        return TopicFit(np.array(["none"] * len(norm), dtype=object), {})
    has_words = np.asarray(matrix.getnnz(axis=1) > 0)
    rows = np.flatnonzero(has_words)
    k = max(1, min(k, len(rows)))
    model = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(matrix[rows], sample_weight=weights[rows])
    vocab = vectorizer.get_feature_names_out()
    names, terms = {}, {}
    for c, centre in enumerate(model.cluster_centers_):
        top = [str(vocab[i]) for i in np.argsort(-centre, kind="stable")[:TERMS_PER_TOPIC] if centre[i] > 0]
        names[c] = f"t{c:02d} " + " ".join(top)
        terms[names[c]] = top
    unique_labels = np.array(["none"] * len(uniques), dtype=object)
    unique_labels[rows] = [names[c] for c in model.labels_]
    return TopicFit(unique_labels[codes], terms)


def emerging_topics(reference: pd.Series, current: pd.Series, terms: dict[str, list[str]]) -> list[dict]:
    """Topics that grew: at least NEW_TOPIC_MIN_SHARE of the day's prompts and NEW_TOPIC_MIN_GROWTH
    times their reference share (or absent from the reference); largest growth first."""
    ref = reference.value_counts(normalize=True)
    cur = current.value_counts(normalize=True)
    out = []
    for topic, share in cur.items():
        before = float(ref.get(topic, 0.0))
        if topic != "none" and share >= NEW_TOPIC_MIN_SHARE and share >= NEW_TOPIC_MIN_GROWTH * before:
            out.append({"topic": str(topic), "terms": terms.get(topic, []), "share": round(float(share), 4),
                        "reference_share": round(before, 4), "new": before == 0.0})
    return sorted(out, key=lambda t: (-(t["share"] - t["reference_share"]), t["topic"]))


def _term_sets(texts: Sequence[object]) -> list[frozenset[str]]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    analyze = TfidfVectorizer(token_pattern=TOKEN_PATTERN, stop_words="english").build_analyzer()
    return [frozenset(analyze(t)) if isinstance(t, str) else frozenset() for t in texts]


def new_topics(reference: Sequence[object], current: Sequence[object]) -> list[list[str]]:
    """New topics of the current texts against the reference texts: lists of emerging terms (most
    frequent first), largest topic first; empty when nothing emerged."""
    from scipy.stats import norm

    ref_sets, cur_sets = _term_sets(reference), _term_sets(current)
    n_ref, n_cur = len(ref_sets), len(cur_sets)
    if not n_ref or not n_cur:
        return []
    ref_df = pd.Series([t for s in ref_sets for t in s], dtype=object).value_counts()
    cur_df = pd.Series([t for s in cur_sets for t in s], dtype=object).value_counts()
    if cur_df.empty:
        return []
    z_min = float(norm.isf(FAMILY_WISE_ERROR / len(cur_df)))
    cand = cur_df[cur_df >= max(NEW_TOPIC_MIN_PROMPTS, NEW_TOPIC_MIN_SHARE * n_cur)]
    emerging = []
    for term, count in cand.items():
        p_cur, p_ref = count / n_cur, ref_df.get(term, 0) / n_ref
        pooled = (count + ref_df.get(term, 0)) / (n_cur + n_ref)
        z = (p_cur - p_ref) / np.sqrt(pooled * (1 - pooled) * (1 / n_cur + 1 / n_ref)) if 0 < pooled < 1 else 0.0
        if p_cur >= NEW_TOPIC_MIN_GROWTH * p_ref and z >= z_min:
            emerging.append((str(term), int(count)))
    emerging.sort(key=lambda tc: (-tc[1], tc[0]))
    docs = {t: frozenset(i for i, s in enumerate(cur_sets) if t in s) for t, _ in emerging}
    topics: list[tuple[list[str], set[int]]] = []
    for term, _ in emerging:  # greedy: a term joins the first topic whose prompts it mostly shares
        for terms, members in topics:
            if len(docs[term] & members) >= TERM_OVERLAP * min(len(docs[term]), len(members)):
                terms.append(term)
                members |= docs[term]
                break
        else:
            topics.append(([term], set(docs[term])))
    topics.sort(key=lambda tm: -len(tm[1]))
    return [terms for terms, _ in topics]


def new_topic_labels(texts: Sequence[object], topics: list[list[str]]) -> list[str | None]:
    """`new <terms>` of the first new topic whose terms the text uses, else None."""
    names = ["new " + " ".join(terms[:TERMS_PER_TOPIC]) for terms in topics]
    out: list[str | None] = []
    for words in _term_sets(texts):
        out.append(next((name for name, terms in zip(names, topics) if words & set(terms)), None))
    return out
