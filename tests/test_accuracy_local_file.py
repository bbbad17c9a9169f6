"""The accuracy machinery on a dataset given as a local file, end to end with two real variants."""

import pandas as pd

from fastbert_variants.accuracy import Scorer
from fastbert_variants.datasets import DatasetSpec, load_tweets
from fastbert_variants.results import AccuracyResult, Gate
from fastbert_variants.workbench import Workbench


def test_scoring_a_local_jsonl_file(tmp_path, unit_cache_dir):
    tweets = load_tweets("held-out")
    path = tmp_path / "tweets.jsonl"
    frame = pd.DataFrame({"tweet": tweets.texts, "sentiment": tweets.raw_labels})
    # 75 of each label: the corpus is ordered by label, and its first 150 tweets (one label) would be refused
    frame = frame.groupby("sentiment").head(75)
    frame.to_json(path, orient="records", lines=True)
    spec = DatasetSpec(name=str(path), text_column="tweet", label_column="sentiment")
    scorer = Scorer(Workbench("default", spec, unit_cache_dir, threads=2))
    evaluation = scorer.evaluate("ort-fp32", "cpu")
    assert 120 <= evaluation.rows < 150  # about a tenth went to calibration
    assert evaluation.fp32.accuracy > 0.7
    assert evaluation.scores.accuracy == evaluation.fp32.accuracy
    assert evaluation.comparison.agreement == 1.0 and evaluation.comparison.mcnemar_p == 1.0
    record = Gate(1.0, 1.0).judge(evaluation)
    assert record.passed and AccuracyResult.from_json(record.to_json(), "cpu/ort-fp32") == record
