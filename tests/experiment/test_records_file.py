"""records.jsonl -> records.csv and records.parquet at the end of a run (runner._finish): a
column that is a number in some rows and a text in others (a constant one testbed reports
as a number and another as a text) must not lose the parquet file."""
import json
from types import SimpleNamespace

import pandas as pd

from orchestrator.experiment.runner import _finish


def test_mixed_columns_become_text_and_both_files_are_written(tmp_path):
    rows = [{"phase": "Tauth", "value": 1.5, "constant:x": "purge", "retransmitted": ""},
            {"phase": "Tauth", "value": 2.5, "constant:x": 5.0, "retransmitted": "a=1"}]
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    _finish(SimpleNamespace(dir=tmp_path))
    df = pd.read_parquet(tmp_path / "records.parquet")
    assert list(df["constant:x"]) == ["purge", "5.0"] and list(df["value"]) == [1.5, 2.5]
    assert len(pd.read_csv(tmp_path / "records.csv")) == 2
