"""The task-file schema: what a YAML task or group file may contain.

Every model here forbids unknown keys, so a typo such as ``querry:`` is an error that names its
file and line instead of a silently ignored setting. Field docstrings are the reference
documentation of the format (see ``docs/task_format.md``, generated from the same text).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from harness.taskspec.names import check_name
from harness.taskspec.schema_base import StrictModel as StrictModel  # re-exported: the models' base
from harness.taskspec.schema_base import check_relative
from harness.taskspec.schema_media import AudioSpec as AudioSpec
from harness.taskspec.schema_media import ImageListSpec as ImageListSpec
from harness.taskspec.schema_media import VideoSpec as VideoSpec
from harness.taskspec.schema_metrics import METRIC_FAMILY_NAMES as METRIC_FAMILY_NAMES
from harness.taskspec.schema_metrics import MetricSpec as MetricSpec
from harness.taskspec.schema_rows import ExplodeColumns, GeneratedRows

TASK_FORMAT_VERSION = 1
"""Version of the task-file format this harness reads (``format_version`` in a file)."""


TaskName = Annotated[str, AfterValidator(lambda value: check_name(value, "task name"))]
GroupName = Annotated[str, AfterValidator(lambda value: check_name(value, "group name"))]
TagName = Annotated[str, AfterValidator(lambda value: check_name(value, "tag"))]
MemberName = Annotated[str, AfterValidator(lambda value: check_name(value, "group member"))]
"""Names follow the one rule of :mod:`harness.taskspec.names`; a list item's error names its line."""


class FolderDiscovery(StrictModel):
    """Tables found by walking a folder, as MMEB-V3's memory parser does: every query file under
    ``root`` (at any depth) is a sub-task, read with the qrels file beside it and the nearest
    corpus file in its folder or one above (up to ``root``). Sub-tasks lacking either are
    skipped. See :mod:`harness.data.discovery` and ``docs/data.md``."""

    root: str
    """Folder relative to ``--data_basedir``. A symlinked ``root`` is resolved (it must stay inside
    ``--data_basedir``); symlinked folders below it are not walked; symlinked files must resolve
    inside ``--data_basedir``."""
    table: Literal["queries", "corpus", "qrels"]
    """Which table this source is. ``queries``: each query row plus a ``discovered`` mapping
    (``subtask``: the query file's folder relative to ``root``, ``""`` at the root; ``id``: the id
    prefixed ``<subtask>::``; ``text``; ``instruction``). ``corpus``: each document row plus
    ``discovered`` (``subtask``: the corpus file's folder; ``id``: prefixed with it; ``text``:
    ``title`` + newline + text). ``qrels``: ``query-id``, ``corpus-id`` (both prefixed) and
    ``score`` rows. Rows without an id or text are dropped, as the reference drops them (counted
    in the provenance as ``dropped_rows``)."""
    query_files: list[str] = Field(
        default_factory=lambda: ["queries.jsonl", "query.jsonl", "queries.parquet", "query.parquet"]
    )
    """File names of query files, found at any depth: all of the first name (sorted by path), then
    all of the next, and so on."""
    qrels_files: list[str] = Field(
        default_factory=lambda: ["qrels.tsv", "qrels.jsonl", "qrels.parquet", "qrels/test.jsonl", "qrels/test.parquet"]
    )
    """Qrels file beside a query file: the first that exists. ``.tsv`` lines are ``qid did score``
    or ``qid Q0 did score``."""
    corpus_files: list[str] = Field(
        default_factory=lambda: ["corpus.jsonl", "corpus.parquet", "documents.jsonl", "documents.parquet"]
    )
    """Corpus file of a sub-task: the first that exists in its folder, else in each folder above
    it up to ``root``. Every corpus file is read once; all sub-tasks rank against the pooled rows."""
    instructions: str | None = None
    """JSON file (relative to ``--data_basedir``) of ``{dataset: {subtask: instruction}}``; the
    instruction of a sub-task is ``[instruction_key][<last segment of subtask>]``, else
    ``[instruction_key][instruction_key]``, else (a sub-task at the root) the only one given,
    else empty."""
    instruction_key: str | None = None
    """The dataset's key in ``instructions``."""

    @field_validator("root", "instructions")
    @classmethod
    def _inside_basedir(cls, value: str | None) -> str | None:
        return None if value is None else check_relative(value, "discovery path")

    @model_validator(mode="after")
    def _instructions_need_a_key(self) -> FolderDiscovery:
        if (self.instructions is None) != (self.instruction_key is None):
            raise ValueError("give instructions and instruction_key together")
        if self.instructions is not None and self.table != "queries":
            raise ValueError("instructions belong to the queries table")
        return self


class DatasetSource(StrictModel):
    """Where a task's rows come from: a hub dataset, local files, or both (``--data_source`` picks
    one), rows written in the task file, or tables found in a folder (``discover``). Give at
    least one of ``path``, ``files``, ``rows`` and ``discover``."""

    path: str | None = None
    """Hub dataset id passed to ``datasets.load_dataset``, e.g. ``ziyjiang/MMEB_Test_Instruct``."""
    name: str | None = None
    """Hub config (subset) name, e.g. ``ImageNet-1K``."""
    split: str = "test"
    """Hub split to evaluate (local files are read whole)."""
    revision: str | None = None
    """Hub revision (commit hash, tag or branch); recorded in the results. Pin a commit, so that
    the rows cannot change under a task version."""
    files: list[str] = Field(default_factory=list)
    """Local data files (glob patterns) relative to ``--data_basedir``: ``.jsonl``, ``.json``,
    ``.parquet`` or ``.csv``. Used instead of the hub when they exist (``--data_source auto``)."""

    rows: list[dict[str, Any]] | None = None
    """Rows written in the task file itself, each a mapping from column to value, e.g. a fixed
    label set; used instead of files and hub."""
    subsets: list[str] | None = None
    """Several hub configs (or local file sets) concatenated in this order, e.g. MVBench's 20.
    Each row gets its subset's name in ``subset_column``. Local ``files`` patterns must contain
    ``{subset}``, which is replaced by each name in turn; every subset must match some file.
    Not combined with ``name`` or ``rows``."""
    subset_column: str = "subset"
    """Column added to every row of a multi-subset source, holding its subset name."""
    discover: FolderDiscovery | None = None
    """Instead of ``path``, ``files`` and ``rows``: the rows of a table found by walking a folder
    under ``--data_basedir`` (local only, never the hub)."""
    generate: GeneratedRows | None = Field(default=None, discriminator="generator")
    """Instead of ``path``, ``files``, ``rows`` and ``discover``: rows made by a named generator
    from local files (one of the ``dataset.generate`` tables below; local only, never the hub)."""
    explode: ExplodeColumns | None = None
    """Make one row of each listed column of every row read (see ``dataset.explode``)."""
    where: dict[str, str | int | float | bool] | None = None
    """Keep only the rows whose columns equal these values (``{language: english}``), before
    ``num_rows`` and ``--limit`` count rows, as the reference filters ViDoRe-v2 queries by
    language before sampling. A row without one of the columns is an error."""
    keep_template: str | None = None
    """Keep only the rows for which this Jinja template (seeing the row's columns and ``row``)
    renders ``True`` (``False``: dropped; anything else is an error), after ``where`` and before
    ``num_rows`` and ``--limit`` count rows, e.g. the reference's skipping of documents with no
    text: ``{{ (row.get('text') or '') != '' }}``."""

    @field_validator("files")
    @classmethod
    def _files_inside_basedir(cls, files: list[str]) -> list[str]:
        return [check_relative(pattern, "data file pattern") for pattern in files]

    @model_validator(mode="after")
    def _needs_a_source(self) -> DatasetSource:
        if self.generate is not None:
            sources = (self.path, self.files or None, self.rows, self.subsets, self.discover)
            if any(source is not None for source in sources):
                raise ValueError("give generate alone, without path, files, rows, subsets or discover")
        elif self.discover is not None:
            if self.path is not None or self.files or self.rows is not None or self.subsets is not None:
                raise ValueError("give discover alone, without path, files, rows or subsets")
        elif self.path is None and not self.files and self.rows is None:
            raise ValueError("give a hub dataset 'path', local 'files' or inline 'rows'")
        if self.subsets is not None:
            if not self.subsets or len(set(self.subsets)) != len(self.subsets):
                raise ValueError("subsets must be a non-empty list of distinct names")
            if self.name is not None or self.rows is not None:
                raise ValueError("give subsets or name/rows, not both")
            missing = [pattern for pattern in self.files if "{subset}" not in pattern]
            if missing:
                raise ValueError(f"with subsets, every files pattern needs '{{subset}}' (not in '{missing[0]}')")
        elif any("{subset}" in pattern for pattern in self.files):
            raise ValueError("a files pattern uses '{subset}' but no subsets are given")
        if self.where is not None and not self.where:
            raise ValueError("where needs at least one column: value pair")
        return self


class QuerySpec(StrictModel):
    """How one dataset row becomes the query input."""

    template: str
    """Jinja template for the query text; row columns are variables. Write ``{{ IMAGE }}`` where
    the image goes; each model adapter turns it into its own visual-token syntax."""
    image_column: str | None = None
    """Column holding the query image: a path relative to ``media_root`` or image data
    (an empty or null value = no image)."""
    image_template: str | None = None
    """Jinja template rendering the query image's path relative to ``media_root`` (empty result =
    no image), for paths built from several columns; use instead of ``image_column``."""
    image_list_column: str | None = None
    """Column holding a list of image paths relative to ``media_root`` (see ``image_lists``), for a
    query of several images (MMEB-V3's GUI screenshots). Instead of ``image_column``."""
    video_template: str | None = None
    """Jinja template rendering the query video's path relative to ``media_root``: a folder of
    frames or a video file (empty result = no video). ``{{ VIDEO }}`` marks it in the text."""
    audio_template: str | None = None
    """Jinja template rendering the query audio file's path relative to ``media_root`` (empty
    result = no audio). ``{{ AUDIO }}`` marks it in the text."""
    audio_column: str | None = None
    """Column holding the query audio: a path relative to ``media_root`` or audio data (bytes, or a
    ``{bytes, path}`` mapping as parquet stores a ``datasets.Audio`` column: bytes when present,
    as the reference reads them); an empty or null value = no audio. Instead of ``audio_template``."""
    audio_window_template: str | None = None
    """Jinja rendering the audio window as a JSON list ``[start, end]`` in seconds (``end`` may be
    null: to the end of the file; use ``| tojson``); empty = the whole file. Needs an audio source."""

    @model_validator(mode="after")
    def _one_image_source(self) -> QuerySpec:
        if self.image_column is not None and self.image_template is not None:
            raise ValueError("give image_column or image_template, not both")
        if self.image_list_column is not None and (self.image_column is not None or self.image_template is not None):
            raise ValueError("give image_list_column or image_column / image_template, not both")
        _check_audio_sources(self.audio_template, self.audio_column, self.audio_window_template)
        return self


class CandidateSpec(StrictModel):
    """Where candidates come from (each row's lists, a corpus, or both) and how they render.

    Per-row candidates zip the ``columns`` element-wise (a scalar column counts as a one-element
    list); corpus candidates are the rows of ``corpus``. In templates both appear as ``cand``
    (``cand.<column>``); per-row candidates also see the row's columns. Give one per-row source
    (``columns``, ``items_template`` or ``folders_template``), a ``corpus``, or both.
    """

    columns: list[str] = Field(default_factory=list)
    """Row columns zipped element-wise; element ``i`` of each is candidate ``i``."""
    folders_template: str | None = None
    """Instead of ``columns``: Jinja rendering a folder (relative to ``media_root``) whose
    sub-folders are the row's candidates, in natural-sorted name order; files in it are skipped.
    Each candidate is ``cand.name`` (the sub-folder's name) and ``cand.path`` (its path relative
    to ``media_root``, e.g. for ``video_template``). Used for moment retrieval's clip folders."""
    exclude_folders: list[str] = Field(default_factory=list)
    """Sub-folder names that ``folders_template`` skips (e.g. ``query``, the query's own frames)."""
    items_template: str | None = None
    """Instead of ``columns``: Jinja rendering a JSON list (use the ``tojson`` filter), one element
    per candidate, e.g. ``{{ [a0, a1, a2] | tojson }}``. A mapping element is ``cand``; any other
    value is ``cand.value``. Candidate templates also get ``cand_index`` (0-based)."""
    corpus: DatasetSource | None = None
    """A dataset (hub, local files or inline ``rows``) whose rows are candidates too: a document
    corpus or a fixed label set. A row's own candidates come first, then the corpus rows; all are
    de-duplicated by id."""
    corpus_pool: Literal["all", "relevant"] = "all"
    """Which corpus rows are candidates: ``all``, or ``relevant``: only those relevant to some query
    evaluated (after ``num_rows`` and ``--limit``), in corpus order, as MMEB-V3's SoundDescs parser
    ranks each query against the evaluated queries' positives only."""
    template: str
    """Jinja template for the candidate text (``{{ IMAGE }}`` / ``{{ VIDEO }}`` / ``{{ AUDIO }}`` mark media)."""
    image_column: str | None = None
    """Column holding the candidate image: a path relative to ``media_root`` or image data (an
    empty or null value = no image). With ``columns`` and no ``corpus`` it must be one of
    ``columns``; for corpus candidates it is a column of the corpus rows."""
    image_template: str | None = None
    """Jinja template rendering the candidate image's path relative to ``media_root`` (empty
    result = no image), for paths built from a column's parts (MCMR's ``images`` list of URLs:
    ``{{ cand.images[0] | basename }}``); use instead of ``image_column``."""
    image_file_template: str | None = None
    """Jinja rendering the file (relative to ``media_root``) that the reference stores a
    candidate's image in before reading it (its visual-document parsers write each corpus page to
    ``{image_root}/{corpus-id}.png``). When that file exists, it is the image. When it does not,
    the row's ``image_column`` data is used as the reference would have written it: unchanged for
    ``.png`` (lossless), re-encoded with Pillow's defaults for a lossy format such as ``.jpg``.
    Nothing is written. Needs ``image_column``."""
    image_list_column: str | None = None
    """Column of the candidate (of ``cand``: an ``items_template`` element or a corpus row) holding a
    list of image paths relative to ``media_root`` (see ``image_lists``). Instead of
    ``image_column``, ``image_template`` and ``image_file_template``."""
    video_template: str | None = None
    """Jinja template rendering the candidate video's path relative to ``media_root``: a folder
    of frames or a video file (empty result = no video)."""
    audio_template: str | None = None
    """Jinja template rendering the candidate audio file's path relative to ``media_root`` (empty
    result = no audio)."""
    audio_column: str | None = None
    """Column holding the candidate audio: a path relative to ``media_root`` or audio data (bytes, or a
    ``{bytes, path}`` mapping as parquet stores a ``datasets.Audio`` column: bytes when present,
    as the reference reads them); an empty or null value = no audio. Instead of ``audio_template``."""
    audio_window_template: str | None = None
    """Jinja rendering the audio window as a JSON list ``[start, end]`` in seconds (``end`` may be
    null: to the end of the file; use ``| tojson``); empty = the whole file. Needs an audio source."""
    id_template: str
    """Jinja template for the candidate id. Candidates are de-duplicated by id across the task,
    first occurrence wins, exactly as the reference does with its ``cand_name``."""

    @model_validator(mode="after")
    def _has_a_source(self) -> CandidateSpec:
        per_row = [bool(self.columns), self.items_template is not None, self.folders_template is not None]
        if sum(per_row) > 1:
            raise ValueError("give one of columns, items_template or folders_template")
        if not any(per_row) and self.corpus is None:
            raise ValueError(
                "give per-row candidates ('columns', 'items_template' or 'folders_template'), a 'corpus', or both"
            )
        if self.corpus_pool == "relevant" and self.corpus is None:
            raise ValueError("corpus_pool: relevant needs a corpus")
        if self.exclude_folders and self.folders_template is None:
            raise ValueError("exclude_folders needs folders_template")
        zipped_only = self.columns and self.corpus is None
        if zipped_only and self.image_column is not None and self.image_column not in self.columns:
            raise ValueError(f"image_column '{self.image_column}' must be one of columns {self.columns}")
        if self.image_template is not None and (self.image_column is not None or self.image_file_template is not None):
            raise ValueError("give image_template or image_column (with image_file_template), not both")
        if self.image_file_template is not None and self.image_column is None:
            raise ValueError("image_file_template needs image_column (the image data used when the file is absent)")
        other_image = (self.image_column, self.image_template, self.image_file_template)
        if self.image_list_column is not None and any(source is not None for source in other_image):
            raise ValueError("give image_list_column or image_column / image_template / image_file_template, not both")
        _check_audio_sources(self.audio_template, self.audio_column, self.audio_window_template)
        return self


def _check_audio_sources(template: str | None, column: str | None, window: str | None) -> None:
    if template is not None and column is not None:
        raise ValueError("give audio_column or audio_template, not both")
    if window is not None and template is None and column is None:
        raise ValueError("audio_window_template needs audio_template or audio_column")


UnmatchedPositive = Literal["error", "score_zero"]
"""What a positive that is not among a query's candidates means (see ``TemplateRelevance``)."""


class FirstCandidateRelevance(StrictModel):
    """The first candidate of each row's lists is the single positive (MMEB image format)."""

    kind: Literal["first_candidate"]
    """Selects this rule."""


class TemplateRelevance(StrictModel):
    """The positive's id is rendered from the row (binary relevance, grade 1)."""

    kind: Literal["id_template"]
    """Selects this rule."""
    template: str
    """Jinja template rendering the id of the positive candidate."""
    unmatched: UnmatchedPositive = "error"
    """A positive that is not among the candidates the query is ranked against (the row's own
    with ``ranking: local``, any with ``global``): ``error`` (the default, naming the row) or
    ``score_zero`` (the row scores 0, as the reference does; such rows are counted in a warning
    and in the score file as ``num_unmatched_positive_rows``). Use ``score_zero`` only where the
    reference data has such rows."""


class IdsTemplateRelevance(StrictModel):
    """Several positives: a template renders a JSON list of relevant ids (binary, grade 1)."""

    kind: Literal["ids_template"]
    """Selects this rule."""
    template: str
    """Jinja template rendering a JSON list of relevant candidate ids (use ``| tojson``)."""
    unmatched: UnmatchedPositive = "error"
    """As for ``id_template``: a listed positive missing from the candidates is an error, or
    (``score_zero``) counted and left to score nothing."""
    no_relevant: Literal["exclude", "score_zero"] = "exclude"
    """A row whose list is empty: ``exclude`` (left out of scoring, counted as ``num_excluded``) or
    ``score_zero`` (kept, every metric 0, as MMEB-V3's ``eval.py`` scores a query with no labels)."""


class CandidateFlagRelevance(StrictModel):
    """Each of a row's own candidates is tested: relevant (grade 1) when ``template`` renders
    ``True``, not when it renders ``False`` (anything else is an error). A row with no relevant
    candidate is an error naming the row."""

    kind: Literal["candidate_flag"]
    """Selects this rule."""
    template: str
    """Jinja template seeing the row's columns, ``cand`` and ``cand_index``, e.g.
    ``{{ cand.name.startswith('positive') }}``."""


class QrelsRelevance(StrictModel):
    """Graded relevance from a qrels dataset (BEIR style): query id, document id, grade. A query
    with no relevant document is left out of scoring and counted (``num_excluded`` in the score
    file), unless ``no_relevant: score_zero``."""

    kind: Literal["qrels"]
    """Selects this rule."""
    dataset: DatasetSource
    """Where the qrels rows are."""
    query_id_template: str
    """Jinja template rendering a query row's id, matched against ``query_id_column``."""
    query_id_column: str | list[str] = "query-id"
    """Qrels column holding the query's id, or a list of columns: the first one whose value is
    set (not missing, null, empty or 0: Python truthiness, as the reference's
    ``row.get("query_id") or row.get("qid")``) holds it. A row with none set is an error."""
    doc_id_column: str | list[str] = "corpus-id"
    """Qrels column holding the relevant candidate's id (as rendered by ``candidates.id_template``),
    or a list of columns, read as ``query_id_column``'s."""
    grade_column: str | list[str] = "score"
    """Qrels column holding the grade, or a list of columns: the first one the row has (present,
    whatever its value, as the reference's ``row.get("label", row.get("score", 1))``). Rows with
    grade <= 0 are dropped; a repeated (query, document) pair follows ``repeated``."""
    grade_default: float | None = None
    """The grade of a qrels row that has none of the ``grade_column`` columns (binary qrels such as
    NanoBEIR's, which have only the two id columns); null: such a row is an error."""
    repeated: Literal["max", "last"] = "max"
    """Of a repeated (query, document) pair with grades > 0: keep the highest grade (``max``, as
    MMEB-V2's ``load_qrels_mapping``) or the last one read (``last``, as MMEB-V3's text parser's
    plain dict assignment)."""
    reference_ids: Literal["as_stored", "text"] = "as_stored"
    """How the reference holds the document ids whose ``set()`` decides its grade pairing
    (``--metrics_compat reference``): as the qrels store them (``as_stored``: an int stays an int,
    MMEB-V2's visual-document parsers) or as text (``text``: ``str(id)``, MMEB-V3's text parser)."""
    no_relevant: Literal["exclude", "score_zero"] = "exclude"
    """A query the qrels give no relevant document: ``exclude`` (left out of scoring, counted as
    ``num_excluded``; MMEB-V2's visual documents) or ``score_zero`` (kept, every metric 0, as
    MMEB-V3's memory parser and ``eval.py`` score it)."""
    unmatched: UnmatchedPositive = "error"
    """A qrels document that is no candidate of the task: ``error`` (naming the qrels row) or
    ``score_zero`` (it stays relevant and is never retrieved, as the reference scores it; such
    queries are counted as ``num_unmatched_positive_rows``)."""

    @field_validator("query_id_column", "doc_id_column", "grade_column")
    @classmethod
    def _some_column(cls, columns: str | list[str]) -> str | list[str]:
        if isinstance(columns, list) and (not columns or len(set(columns)) != len(columns)):
            raise ValueError("a list of columns must be non-empty and name each column once")
        return columns


Relevance = Annotated[
    FirstCandidateRelevance | TemplateRelevance | IdsTemplateRelevance | CandidateFlagRelevance | QrelsRelevance,
    Field(discriminator="kind"),
]


Modality = Literal["image", "video", "visdoc", "text", "audio", "tool", "gui", "memory"]
"""MMEB-V3's eight categories (report_score_v3.py's modalities); MMEB-V2 uses the first three."""


class TaskSpec(StrictModel):
    """One benchmark task: data source, how rows become inputs, ranking mode and metrics."""

    format_version: int = TASK_FORMAT_VERSION
    """Task-file format version; this harness reads version 1."""
    task: TaskName
    """Unique task name; also the prefix of the task's output files. A name (of a task, group,
    tag or group member) is letters, digits and ``._-`` (single inner spaces allowed) in segments
    separated by ``/``, no segment starting with ``.``, at most 128 characters (``ImageNet-1K``,
    ``mmeb_v2_image``, MMEB-V3's ``text/BRIGHT/aops`` or ``text/MultiConIR/Legal Document``, whose
    files go in sub-folders of the output folder as the reference writes them); ``/tmp/x``,
    ``a//b``, ``a  b`` or ``../x`` is refused (see :mod:`harness.taskspec.names`)."""
    version: str
    """Version of this task definition, recorded with every score; bump it when prompts, data or
    scoring change. Quote it (``"1.0"``): an unquoted number is read as text, so ``1.10`` would
    become ``1.1``."""
    tag: list[TagName] = Field(default_factory=list)
    """Tags (names, as ``task``): ``--tasks <tag>`` selects every task carrying it; a tag has no
    aggregate score."""
    description: str = ""
    """Free text shown by ``harness tasks``."""
    modality: Modality
    """Modality bucket used for the leaderboard means: image, video, visdoc, text, audio, tool, gui
    or memory (MMEB-V3 reports each as its own category)."""
    meta_task: None = None
    """Not a task key any more: a task's meta-task (e.g. ``I-CLS``) is the group file with
    ``meta_task: true`` that lists it, so membership is written once. Setting it is an error that
    says so."""
    dataset: DatasetSource
    """Where the rows come from."""
    media_root: str = ""
    """Folder (relative to ``--data_basedir``) that media paths are resolved in; paths may not
    escape it."""
    num_rows: int | None = Field(default=None, ge=1)
    """Evaluate only the first N rows (the reference's ``num_sample_per_subset``); with ``--limit``,
    the smaller of the two (``harness run`` and ``harness validate`` alike)."""
    ranking: Literal["local", "global"]
    """``local``: each query against its own candidate list; ``global``: against every
    de-duplicated candidate of the task."""
    query: QuerySpec
    """How a row becomes the query."""
    candidates: CandidateSpec
    """Where a query's candidates come from and how they render."""
    relevance: Relevance
    """Which candidates are relevant to each query: one rule, chosen by ``kind``."""
    metrics: MetricSpec = Field(default_factory=MetricSpec)
    """Metrics and main score (all defaults when left out)."""
    video: VideoSpec = Field(default_factory=VideoSpec)
    """Frame sampling of video inputs (all defaults when left out)."""
    audio: AudioSpec = Field(default_factory=AudioSpec)
    """Decoding of audio inputs (all defaults when left out)."""
    image_lists: ImageListSpec = Field(default_factory=ImageListSpec)
    """Reading of image lists (``image_list_column``; all defaults when left out)."""

    @field_validator("format_version")
    @classmethod
    def _supported_format(cls, value: int) -> int:
        if value != TASK_FORMAT_VERSION:
            raise ValueError(f"format_version {value} is not supported (this harness reads {TASK_FORMAT_VERSION})")
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value

    @field_validator("media_root")
    @classmethod
    def _media_root_inside_basedir(cls, value: str) -> str:
        return check_relative(value, "media_root")

    @field_validator("meta_task", mode="before")
    @classmethod
    def _meta_task_lives_in_groups(cls, value: object) -> None:
        if value is not None:
            raise ValueError(
                f"a task no longer names its meta-task: list it in the meta-task's group file "
                f"(group: {value}, meta_task: true) and remove this key"
            )
        return None

    @model_validator(mode="after")
    def _scored_zero_needs_the_v3_definitions(self) -> TaskSpec:
        # Under vlm2vec-6e1e1d4 a query without relevant items recalls 1.0, so it would not score 0.
        scored_zero = getattr(self.relevance, "no_relevant", "exclude") == "score_zero"
        if scored_zero and self.metrics.definitions != "vlm2vec-44f991d":
            raise ValueError(
                "relevance.no_relevant: score_zero needs metrics.definitions vlm2vec-44f991d "
                "(under vlm2vec-6e1e1d4 such a query would recall 1.0, not score 0)"
            )
        return self


class GroupSpec(StrictModel):
    """A named set of tasks (or groups, or tags) with an explicit aggregation rule."""

    format_version: int = TASK_FORMAT_VERSION
    """Task-file format version; this harness reads version 1."""
    group: GroupName
    """Unique group name, e.g. ``mmeb_v2_image`` (the same rule as task names)."""
    version: str
    """Version of this group definition, recorded with the group's score; quote it, as a task's."""
    task: list[MemberName] = Field(min_length=1)
    """Members: task names, group names or tags (names, not file paths)."""
    aggregate: Literal["mean_of_tasks", "mean_of_children"]
    """``mean_of_tasks``: unweighted mean of every leaf task's main score (the MMEB rule);
    ``mean_of_children``: unweighted mean of the direct members' scores."""
    meta_task: bool = False
    """True for a meta-task (e.g. ``I-CLS``): the only statement of which tasks belong to it. Each
    leaf task is labelled with the group's name in the results and the leaderboard (meta-task
    columns and means); a task may belong to one meta-task group at most."""
    description: str = ""
    """Free text shown by ``harness tasks``."""

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value
