"""The 53 MMEB-V3 text task files reproduce VLM2Vec's complex_text_retrieve parser.

Keys and files are those of the reference's ``experiments/public/eval/text.yaml`` (VLM2Vec main
44f991d), written out here; expected texts, ids and relevance are derived by hand from
``src/data/eval_dataset/complex_text_retrieve.py``. The fixture rows under
``tests/data/mmeb_v3_text_rows/text-tasks`` are tiny tables in each family's local layout; the
parquet families (BRIGHT, NanoBEIR) are written by :func:`text_basedir` from rows given below.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import TINY_MODEL_ARGS

import harness
from harness.data.records import TaskData, build_task_data
from harness.data.sources import load_rows
from harness.taskspec.index import TaskIndex, builtin_task_dir
from harness.taskspec.schema import IdsTemplateRelevance, QrelsRelevance, TaskSpec

ROWS_DIR = Path(__file__).parent / "data" / "mmeb_v3_text_rows"
TEXT_DIR = builtin_task_dir() / "mmeb_v3" / "text"
GROUP_DIR = builtin_task_dir() / "mmeb_v3" / "groups"
BACKBONE_TOKENS = ("<|image_pad|>", "<|vision_start|>", "<|vision_end|>", "<image>", "<|video_pad|>", "<|image_1|>")

FAMILIES = {
    "BRIGHT": [
        "aops", "biology", "earth_science", "economics", "leetcode", "pony", "psychology", "robotics",
        "stackoverflow", "sustainable_living", "theoremqa_questions", "theoremqa_theorems",
    ],
    "FollowIR": ["core17-instructions", "news21-instructions", "robust04-instructions"],
    "InfoSearch": ["Audience-v1", "Clarity-v1", "Format-v1", "Language-v1", "Length-v1", "Source-v1"],
    "LongEmbed": ["2wikimqa", "narrativeqa", "needle", "passkey", "qmsum", "summ_screen_fd"],
    "MultiConIR": ["Books", "Legal Document", "Medical Case", "Movies", "People"],
    "NanoBEIR": [
        "NanoArguAna", "NanoClimateFEVER", "NanoDBPedia", "NanoFEVER", "NanoFiQA2018", "NanoHotpotQA",
        "NanoMSMARCO", "NanoNFCorpus", "NanoNQ", "NanoQuoraRetrieval", "NanoSCIDOCS", "NanoSciFact",
        "NanoTouche2020",
    ],
    "R2MED": [
        "Bioinformatics", "Biology", "IIYi-Clinical", "MedQA-Diag", "MedXpertQA-Exam", "Medical-Sciences",
        "PMC-Clinical", "PMC-Treatment",
    ],
}  # fmt: skip
REFERENCE_KEYS = [f"text/{family}/{name}" for family, names in FAMILIES.items() for name in names]
META_TASKS = {
    "T-InstructionFollowing": ["FollowIR", "InfoSearch"],
    "T-Reasoning": ["BRIGHT", "R2MED"],
    "T-LongContext": ["LongEmbed"],
    "T-MultiCondition": ["MultiConIR"],
    "T-General": ["NanoBEIR"],
}


def reference_files(family: str, name: str) -> tuple[str, str, str | None]:
    """text.yaml's query_file, candidate_file and qrels_file of one key (relative to --data_basedir)."""
    if family == "BRIGHT":
        return (
            f"text-tasks/BRIGHT/examples/{name}-00000-of-00001.parquet",
            f"text-tasks/BRIGHT/documents/{name}-00000-of-00001.parquet",
            None,
        )
    if family == "NanoBEIR":
        folder = f"text-tasks/NanoBEIR/{name}"
        return tuple(f"{folder}/{table}/train-00000-of-00001.parquet" for table in ("queries", "corpus", "qrels"))  # type: ignore[return-value]
    folder = f"text-tasks/{'MultiConIR_v2' if family == 'MultiConIR' else family}/{name}"
    queries = "query.jsonl" if family == "R2MED" else "queries.jsonl"
    qrels = "qrels_og/test.jsonl" if family in ("FollowIR", "InfoSearch") else "qrels.jsonl"
    return f"{folder}/{queries}", f"{folder}/corpus.jsonl", f"{folder}/{qrels}"


@pytest.fixture(scope="module")
def index() -> TaskIndex:
    return TaskIndex(include_builtin=True)


def spec_of(index: TaskIndex, key: str) -> TaskSpec:
    spec = index.tasks[key].spec
    assert isinstance(spec, TaskSpec)
    return spec


BRIGHT_EXAMPLES = [
    {"id": "0", "query": "Find x if 2x + 3 = 7.", "gold_ids": ["doc_a"], "gold_ids_long": ["long_a"],
     "excluded_ids": ["doc_b"]},
    {"id": "1", "query": "Count the primes below 10.", "gold_ids": [], "gold_ids_long": ["doc_c", "doc_b"],
     "excluded_ids": []},
]  # fmt: skip
BRIGHT_DOCUMENTS = [
    {"id": "doc_a", "content": "Subtract 3, then divide by 2."},
    {"id": "doc_b", "content": "The primes below 10 are 2, 3, 5 and 7."},
    {"id": "doc_c", "content": "A sieve lists primes."},
    {"id": "doc_d", "content": ""},
]
NANO_QUERIES = [{"_id": "q7", "text": "0-dimensional biomaterials show inductive properties."}]
NANO_CORPUS = [
    {"_id": "31715818", "title": "New opportunities", "text": "Biomaterials induce bone."},
    {"_id": "4983", "title": "", "text": "Microstructural development of white matter."},
]
NANO_QRELS = [{"query-id": "q7", "corpus-id": "31715818"}]


@pytest.fixture(scope="module")
def text_basedir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture tables in the reference's text-tasks/ layout, parquet families written here."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    base = tmp_path_factory.mktemp("mmeb_v3_text")
    shutil.copytree(ROWS_DIR / "text-tasks", base / "text-tasks")
    tables = {
        "BRIGHT/examples/aops-00000-of-00001.parquet": BRIGHT_EXAMPLES,
        "BRIGHT/documents/aops-00000-of-00001.parquet": BRIGHT_DOCUMENTS,
        "NanoBEIR/NanoSciFact/queries/train-00000-of-00001.parquet": NANO_QUERIES,
        "NanoBEIR/NanoSciFact/corpus/train-00000-of-00001.parquet": NANO_CORPUS,
        "NanoBEIR/NanoSciFact/qrels/train-00000-of-00001.parquet": NANO_QRELS,
    }
    for relative, rows in tables.items():
        path = base / "text-tasks" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows), path)
    return base


def fixture_data(index: TaskIndex, key: str, basedir: Path) -> TaskData:
    """Build the task from the fixture tables, as ``harness run --data_source local`` would."""
    spec = spec_of(index, key)
    rows = load_rows(spec.dataset, basedir, "local")
    return build_task_data(spec, rows, basedir, check_media=False, data_basedir=basedir, data_source="local")


# --- 1. the files load, with the reference's keys and files -------------------------------------


def test_the_53_reference_keys_load_through_the_task_index(index: TaskIndex):
    text_tasks = sorted(name for name, task in index.tasks.items() if task.spec.modality == "text")
    assert len(REFERENCE_KEYS) == 53
    assert text_tasks == sorted(REFERENCE_KEYS)
    files = sorted(p for p in TEXT_DIR.rglob("*.yaml") if not p.name.startswith("_"))
    assert len(files) == 53
    assert {index.tasks[key].source.resolve() for key in REFERENCE_KEYS} == {p.resolve() for p in files}


@pytest.mark.parametrize("key", REFERENCE_KEYS)
def test_task_reads_the_reference_files(index: TaskIndex, key: str):
    _, family, name = key.split("/", 2)
    spec = spec_of(index, key)
    queries, corpus, qrels = reference_files(family, name)
    assert spec.candidates.corpus is not None
    assert (spec.dataset.files, spec.candidates.corpus.files) == ([queries], [corpus])
    assert spec.dataset.path is None and spec.candidates.corpus.path is None  # local-only: no hub dataset
    if qrels is None:
        assert isinstance(spec.relevance, IdsTemplateRelevance)
    else:
        assert isinstance(spec.relevance, QrelsRelevance)
        assert spec.relevance.dataset.files == [qrels] and spec.relevance.dataset.path is None


@pytest.mark.parametrize("key", REFERENCE_KEYS)
def test_task_settings_follow_the_reference(index: TaskIndex, key: str):
    spec = spec_of(index, key)
    assert (spec.modality, spec.ranking, spec.version, spec.tag) == ("text", "global", "1.0", [])
    assert spec.metrics.main == "ndcg_linear@5"
    assert spec.metrics.k == [1, 5, 10]
    assert spec.metrics.families == ["hit", "ndcg", "precision", "recall", "f1", "map", "mrr"]
    assert spec.query.image_column is None and spec.candidates.image_column is None


@pytest.mark.parametrize("key", [k for k in REFERENCE_KEYS if not k.startswith("text/BRIGHT/")])
def test_qrels_columns_are_the_reference_fallbacks(index: TaskIndex, key: str):
    relevance = spec_of(index, key).relevance
    assert isinstance(relevance, QrelsRelevance)
    assert relevance.query_id_column == ["query_id", "query-id", "qid", "q_id", "id"]
    assert relevance.doc_id_column == ["corpus_id", "corpus-id", "doc_id", "document_id", "p_id"]
    assert (relevance.grade_column, relevance.grade_default) == (["label", "score"], 1)


# --- 2. groups ------------------------------------------------------------------------------------


def test_mmeb_v3_text_is_the_mean_over_all_53_tasks(index: TaskIndex):
    group = index.groups["mmeb_v3_text"].spec
    assert group.aggregate == "mean_of_tasks" and not group.meta_task
    assert group.task == list(META_TASKS)
    assert sorted(index.expand("mmeb_v3_text")) == sorted(REFERENCE_KEYS)
    assert len(index.expand("mmeb_v3_text")) == 53


@pytest.mark.parametrize("meta_task", list(META_TASKS))
def test_sub_kind_meta_task_lists_its_families_tasks(index: TaskIndex, meta_task: str):
    group = index.groups[meta_task].spec
    expected = [f"text/{family}/{name}" for family in META_TASKS[meta_task] for name in FAMILIES[family]]
    assert (group.meta_task, group.aggregate) == (True, "mean_of_tasks")
    assert index.expand(meta_task) == expected
    assert {index.meta_task_of(key) for key in expected} == {meta_task}


# --- 3. queries, documents, ids and relevance on fixture rows -------------------------------------


def test_followir_query_is_instruction_og_then_query_stripped(index: TaskIndex, text_basedir: Path):
    data = fixture_data(index, "text/FollowIR/core17-instructions", text_basedir)
    assert [q.input.text for q in data.queries] == [
        # f"{instruction_og} {query}".strip(): the instruction's own trailing space stays inside
        "Relevant documents name a specific criminal organization.  International Organized Crime",
        "Poliomyelitis and Post-Polio",  # empty instruction_og: the raw query
    ]
    # title + "\n" + text only when both are set; a title without text is no document
    assert {i: c.text for i, c in data.candidates.items()} == {
        "d1": "Mafia trial opens\nProsecutors named the Gambino family.",
        "d2": "Post-polio syndrome affects survivors decades later.",
    }
    assert [q.relevance for q in data.queries] == [{"d1": 1.0}, {"d2": 2.0}]  # score 0 dropped


def test_infosearch_query_is_instruction_changed_with_the_og_qrels(index: TaskIndex, text_basedir: Path):
    data = fixture_data(index, "text/InfoSearch/Audience-v1", text_basedir)
    assert [q.input.text for q in data.queries] == [
        "Find documents written for children. how do vaccines work",
        "what causes tides",
    ]
    assert data.candidates["v1"].text == "Vaccines for kids\nVaccines teach your body to fight germs."
    assert data.candidates["v2"].text == "The moon's gravity pulls the oceans."  # no title column
    assert [q.relevance for q in data.queries] == [{"v1": 1.0}, {"v2": 1.0}]


def test_longembed_reads_qid_and_doc_id_with_grade_one_when_qrels_have_no_grade(index: TaskIndex, text_basedir: Path):
    data = fixture_data(index, "text/LongEmbed/needle", text_basedir)
    assert [q.input.text for q in data.queries] == [
        "What is the secret ingredient of the cake?",
        "Which city did the traveller visit first?",
    ]
    assert list(data.candidates) == ["doc0", "doc1"]
    assert [q.relevance for q in data.queries] == [{"doc0": 1.0}, {"doc1": 1.0}]


def test_multiconir_reads_id_query_content_and_label_qrels(index: TaskIndex, text_basedir: Path):
    data = fixture_data(index, "text/MultiConIR/Legal Document", text_basedir)
    assert [q.input.text for q in data.queries] == [
        "A contract dispute filed in 2019 about unpaid rent",
        "A patent case decided by a jury",  # query_content, the third text field
    ]
    assert data.candidates["c2"].text == "The jury found the patent infringed."  # content
    assert [q.relevance for q in data.queries] == [{"c1": 1.0}, {"c2": 1.0}]  # label 0 dropped


def test_r2med_skips_a_query_with_empty_text_and_reads_q_id_p_id(index: TaskIndex, text_basedir: Path):
    data = fixture_data(index, "text/R2MED/Biology", text_basedir)
    assert [q.input.text for q in data.queries] == [
        "Why do cells need mitochondria?",
        "How do plants sense gravity?",
    ]
    assert list(data.candidates) == ["p1", "p2", "p3"]
    assert [q.relevance for q in data.queries] == [{"p1": 1.0}, {"p2": 2.0, "p3": 1.0}]


def test_nanobeir_parquet_binary_qrels_and_empty_title(index: TaskIndex, text_basedir: Path):
    data = fixture_data(index, "text/NanoBEIR/NanoSciFact", text_basedir)
    assert [q.input.text for q in data.queries] == ["0-dimensional biomaterials show inductive properties."]
    assert {i: c.text for i, c in data.candidates.items()} == {
        "31715818": "New opportunities\nBiomaterials induce bone.",
        "4983": "Microstructural development of white matter.",
    }
    assert [q.relevance for q in data.queries] == [{"31715818": 1.0}]


def test_bright_relevance_is_gold_ids_else_gold_ids_long_and_keeps_excluded_ids(index: TaskIndex, text_basedir: Path):
    data = fixture_data(index, "text/BRIGHT/aops", text_basedir)
    assert [q.input.text for q in data.queries] == ["Find x if 2x + 3 = 7.", "Count the primes below 10."]
    assert [q.relevance for q in data.queries] == [{"doc_a": 1.0}, {"doc_c": 1.0, "doc_b": 1.0}]
    # excluded_ids are not read by the reference: doc_b stays a candidate; the empty doc_d is skipped
    assert list(data.candidates) == ["doc_a", "doc_b", "doc_c"]


# --- 4. backbone-neutral files, one end-to-end run ------------------------------------------------


def test_no_backbone_tokens_in_text_task_or_group_files():
    paths = [*TEXT_DIR.rglob("*.yaml"), *(GROUP_DIR / f"{g}.yaml" for g in (*META_TASKS, "mmeb_v3_text"))]
    assert len(paths) == 53 + 9 + 6  # tasks, parser / family / qrels include files, groups
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for token in BACKBONE_TOKENS:
            assert token not in text, f"{path.name} contains {token}"


def test_two_text_tasks_run_end_to_end_into_the_reference_sub_folders(
    tmp_path: Path, text_basedir: Path, tiny_checkpoint: Path
):
    keys = ["text/R2MED/Biology", "text/MultiConIR/Legal Document"]
    harness.evaluate(
        "vlm2vec",
        f"pretrained={tiny_checkpoint},{TINY_MODEL_ARGS}",
        keys,
        data_basedir=text_basedir,
        output_path=tmp_path / "out",
        device="cpu",
        batch_size=4,
    )
    for key, num_data in zip(keys, (2, 2), strict=True):
        score = json.loads((tmp_path / "out" / f"{key}_score.json").read_text(encoding="utf-8"))
        assert {"hit@1", "ndcg_linear@5", "ndcg_exponential@10", "recall@5", "map@10", "mrr"} <= set(score)
        assert "mrr@10" not in score  # VLM2Vec main: one uncut mrr
        assert (score["num_data"], score["num_pred"], score["num_excluded"]) == (num_data, num_data, 0)
        assert 0.0 <= score["ndcg_linear@5"] <= 1.0


def test_longembed_document_of_476k_tokens_reaches_the_adapter_whole(index: TaskIndex, tmp_path: Path):
    """A LongEmbed document as long as the longest the reference reports (~476k tokens, here
    2.5 M characters) renders whole: the render limit bounds templates, not the data, and the
    adapter decides what the model sees."""
    shutil.copytree(ROWS_DIR / "text-tasks" / "LongEmbed", tmp_path / "text-tasks" / "LongEmbed")
    corpus = tmp_path / "text-tasks" / "LongEmbed" / "needle" / "corpus.jsonl"
    rows = [json.loads(line) for line in corpus.read_text().splitlines()]
    long_text = "The secret ingredient is cardamom. " * 72_000  # 2,520,000 characters
    rows[0]["text"] = long_text
    corpus.write_text("".join(json.dumps(row) + "\n" for row in rows))
    data = fixture_data(index, "text/LongEmbed/needle", tmp_path)
    assert data.candidates["doc0"].text == long_text
