"""Tag and metadata keys are spelled in one module: a literal elsewhere is a second spelling waiting to drift."""

import re
from pathlib import Path

from ops_pipelines import keys

PACKAGE = Path(keys.__file__).parent
# Our run tags (ops/...), MLflow tags (ops....) and the old ops_pipelines/... spelling, as string literals.
LITERAL = re.compile(r"""["'](ops[/.][a-z_]+|ops_pipelines/[a-z_]+)["']""")


def test_no_tag_key_is_spelled_outside_the_keys_module():
    found = [f"{p.relative_to(PACKAGE)}: {m.group(0)}" for p in sorted(PACKAGE.rglob("*.py")) if p != Path(keys.__file__)
             for m in LITERAL.finditer(p.read_text(encoding="utf-8"))]
    assert found == []


def test_run_tags_share_one_namespace_and_mlflow_tags_another():
    names = {k: v for k, v in vars(keys).items() if k.isupper() and isinstance(v, str)}
    run_tags = {k: v for k, v in names.items() if v.startswith("ops/")}
    assert keys.TRIGGER == "ops/trigger" and keys.LANDING_FILES == "ops/files"
    assert all(v.startswith("ops.") for k, v in names.items() if k.startswith("MLFLOW_"))
    assert len(set(run_tags.values())) == len(run_tags)  # no two constants for one tag
    assert keys.model_key("ctr_logreg", keys.RETRAIN_KEY) == "ctr_logreg/retrain_key"
