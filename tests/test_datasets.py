import json

import numpy as np
import pandas as pd
import pytest

from fastbert_variants.datasets import DatasetSpec, load_labelled_texts, load_tweets, map_labels
from fastbert_variants.errors import UserError

ID2LABEL = {0: "negative", 1: "positive"}


def test_default_split_is_disjoint_and_large_enough():
    train, held_out = load_tweets("train"), load_tweets("held-out")
    assert len(held_out) >= 1000 and len(train) > 3 * len(held_out)
    assert not set(train.texts) & set(held_out.texts)
    assert set(held_out.raw_labels) == {"negative", "positive"}


def test_default_dataset_calibrates_on_training_tweets_only():
    data = load_labelled_texts(DatasetSpec())
    assert data.calibration_texts and not set(data.calibration_texts) & set(data.texts)
    assert set(data.labels_for(ID2LABEL).tolist()) == {0, 1}


@pytest.fixture
def rows():
    return pd.DataFrame({"sentence": [f"text number {i}" for i in range(60)],
                         "label": ["positive" if i % 3 else "negative" for i in range(60)]})


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet", ".tsv"])
def test_local_files_of_every_format(rows, tmp_path, suffix):
    path = tmp_path / f"data{suffix}"
    {".csv": lambda: rows.to_csv(path, index=False), ".tsv": lambda: rows.to_csv(path, sep="\t", index=False),
     ".jsonl": lambda: rows.to_json(path, orient="records", lines=True),
     ".parquet": lambda: rows.to_parquet(path)}[suffix]()
    data = load_labelled_texts(DatasetSpec(name=str(path), text_column="sentence"))
    assert len(data) + len(data.calibration_texts) == 60
    assert not set(data.texts) & set(data.calibration_texts)
    assert set(data.labels_for(ID2LABEL).tolist()) <= {0, 1}


def test_missing_column_lists_the_columns(rows, tmp_path):
    path = tmp_path / "data.csv"
    rows.to_csv(path, index=False)
    with pytest.raises(UserError, match=r"no column 'text' \(it has \['sentence', 'label'\]\); set --text-column"):
        load_labelled_texts(DatasetSpec(name=str(path)))


def test_empty_dataset_is_an_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("text,label\n")
    with pytest.raises(UserError, match="no rows to score"):
        load_labelled_texts(DatasetSpec(name=str(path)))


def test_unreadable_and_unknown_files(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_labelled_texts(DatasetSpec(name=str(tmp_path / "nope.csv")))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    with pytest.raises(UserError, match="cannot read dataset file"):
        load_labelled_texts(DatasetSpec(name=str(bad)))


def test_normalize_labels_and_max_samples(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(json.dumps({"text": f"t{i}", "label": f"{i % 2}_{'pos' if i % 2 else 'neg'}"})
                              for i in range(40)))
    data = load_labelled_texts(DatasetSpec(name=str(path), normalize_labels=True, max_samples=5))
    assert len(data) == 5 and all(isinstance(v, int) for v in data.raw_labels)
    with pytest.raises(UserError, match="--max-samples must be at least 1"):
        DatasetSpec(max_samples=0)


def test_labels_map_by_name_or_by_index():
    assert map_labels(["Positive", "negative"], ID2LABEL, "d").tolist() == [1, 0]
    assert map_labels([1, 0, np.int64(1)], ID2LABEL, "d").tolist() == [1, 0, 1]
    assert map_labels(["1", "0"], ID2LABEL, "d").tolist() == [1, 0]


def test_label_mismatch_names_both_label_sets():
    with pytest.raises(UserError, match=r"\['neutral', 'positive'\] do not match the model's labels \{0: 'negative'"):
        map_labels(["positive", "neutral"], ID2LABEL, "d")
    with pytest.raises(UserError, match=r"unmatched: \[2\]"):
        map_labels([0, 2], ID2LABEL, "d")


def test_hub_dataset_offline_is_one_clear_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets.config

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    with pytest.raises(UserError, match="cannot load dataset 'glue'.*Offline\\? Export it"):
        load_labelled_texts(DatasetSpec(name="glue", config="sst2", split="validation"))


def test_the_long_text_set_is_256_to_512_tokens_of_one_label_each_from_held_out_tweets(default_bench):
    from fastbert_variants.datasets import load_tweets, long_tweets

    tokenizer = default_bench.source.tokenizer
    long_set = long_tweets(tokenizer)
    lengths = [len(ids) for ids in tokenizer(long_set.texts)["input_ids"]]
    assert len(long_set) >= 100 and min(lengths) >= 256 and max(lengths) <= 512
    assert set(long_set.raw_labels) == {"negative", "positive"}
    held_out = load_tweets("held-out")
    label_of = dict(zip(held_out.texts, held_out.raw_labels, strict=True))
    first_text, first_label = long_set.texts[0], long_set.raw_labels[0]
    pieces = [t for t in held_out.texts if t in first_text and len(t) > 20]
    assert pieces and {label_of[t] for t in pieces} == {first_label}  # made of held-out tweets of its own label
    assert long_tweets(tokenizer).texts == long_set.texts  # the same set every run


def test_unlabelled_rows_are_refused_with_the_count_and_the_fix(tmp_path):
    path = tmp_path / "gaps.csv"
    rows = [f"text {i},{'' if i % 7 == 0 else i % 2}" for i in range(70)]
    path.write_text("text,label\n" + "\n".join(rows) + "\n")
    with pytest.raises(UserError, match=r"has \d+ of \d+ rows without a label .*--dataset-split validation.*"
                                        r"--drop-unlabelled") as refused:
        load_labelled_texts(DatasetSpec(name=str(path)))
    assert "\n" not in str(refused.value)
    data = load_labelled_texts(DatasetSpec(name=str(path), drop_unlabelled=True))
    assert data.unlabelled_dropped > 0 and len(data) + data.unlabelled_dropped + len(data.calibration_texts) <= 70
    # the column held floats because of its empty cells; the labels left are integers again, mapped by index
    assert set(data.labels_for(ID2LABEL).tolist()) == {0, 1}


def test_a_hub_split_of_classlabel_minus_one_is_refused_not_read_as_the_last_name(monkeypatch):
    datasets = pytest.importorskip("datasets")
    features = datasets.Features({"sentence": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["negative", "positive"])})
    test_split = datasets.Dataset.from_dict({"sentence": ["a", "b", "c"], "label": [-1, -1, -1]}, features=features)
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, split, **k: test_split)
    spec = DatasetSpec(name="glue", config="sst2", split="test", text_column="sentence")
    with pytest.raises(UserError, match=r"split 'test' of dataset 'glue' has 3 of 3 rows without a label"):
        load_labelled_texts(spec)


def test_a_single_label_is_refused_for_gating(tmp_path, default_bench):
    from fastbert_variants.accuracy import Scorer

    only_positive = load_labelled_texts(DatasetSpec())
    only_positive.raw_labels = ["positive"] * len(only_positive.raw_labels)
    with pytest.raises(UserError, match="a single label in its .* scored rows"):
        _ = Scorer(default_bench, only_positive).labels


def test_a_huge_header_or_text_is_bounded_in_what_is_read_and_echoed(tmp_path):
    """A 200 MB one-line CSV took pandas past 24 GB and its error echoed the whole header; a 200 MB text was tokenized
    whole (11.6 GiB): the header is read with a bounded line, a few names are echoed, each text is clipped (#37 13)."""
    from fastbert_variants.datasets import MAX_HEADER_BYTES
    from fastbert_variants.texts import MAX_TEXT_CHARS

    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"column{i:07d}" for i in range(MAX_HEADER_BYTES // 10)) + "\n")
    with pytest.raises(UserError, match="its first line is over 1 MiB, not a header of column names") as refused:
        load_labelled_texts(DatasetSpec(str(wide)))
    assert len(str(refused.value)) < 300

    many = tmp_path / "many.csv"
    many.write_text(",".join(f"c{i}" for i in range(5000)) + "\n" + ",".join("1" * 5000) + "\n")
    with pytest.raises(UserError, match=r"has no column 'text' \(it has 5000 columns: \['c0', 'c1',") as refused:
        load_labelled_texts(DatasetSpec(str(many)))
    assert len(str(refused.value)) < 400

    long_text = "word " * (MAX_TEXT_CHARS // 2)  # 2.5x the bound
    rows = [{"text": f"{i} {long_text}", "label": i % 2} for i in range(4)] + [{"text": "ok", "label": 0}] * 20
    for suffix, write in ((".jsonl", lambda p: p.write_text("".join(json.dumps(r) + "\n" for r in rows))),
                          (".csv", lambda p: pd.DataFrame(rows).to_csv(p, index=False))):
        path = tmp_path / f"long{suffix}"
        write(path)
        data = load_labelled_texts(DatasetSpec(str(path)))
        longest = max(map(len, data.texts + data.calibration_texts))
        assert longest == MAX_TEXT_CHARS, (suffix, longest)


def test_dataset_revision_reaches_the_hub_and_names_what_was_scored(monkeypatch):
    datasets = pytest.importorskip("datasets")
    asked = []
    rows = datasets.Dataset.from_dict({"sentence": ["good", "bad"] * 10, "label": [1, 0] * 10})

    def load_dataset(name, config, split, revision=None):
        asked.append((split, revision))
        return rows

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    data = load_labelled_texts(DatasetSpec(name="org/reviews", split="test", text_column="sentence", revision="v2"))
    assert data.name == "org/reviews@v2" and asked == [("test", "v2"), ("train[:256]", "v2")]
