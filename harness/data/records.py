"""Turn a task's rows into query and candidate inputs.

This is where templates are rendered and media paths resolved. Candidates are de-duplicated by
id across the whole task, first occurrence wins (the reference's ``cand_name`` rule): the rows'
own candidates first, in row order, then the rows of ``candidates.corpus``. Each query keeps its
own candidate id list, duplicates included, for local ranking. Templates see a row's columns as
variables and the whole row as ``row`` (for columns such as ``query-id``: ``row['query-id']``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.data.audio_values import audio_value, audio_window
from harness.data.corpus import Qrels, basedir_of, check_qrels_documents, image_value, load_corpus, load_qrels
from harness.data.image_lists import ImageListError, SlotReader, list_entries, split_slots
from harness.data.paths import exists, is_file, resolve_inside
from harness.data.sources import DatasetRows, DataSourceMode
from harness.errors import DataError, MediaError
from harness.inputs import (
    AUDIO_MARKER,
    IMAGE_MARKER,
    VIDEO_MARKER,
    AudioData,
    AudioRef,
    EncodeInput,
    ImageData,
    ImageSlot,
    VideoRef,
)
from harness.media.image import storage_format
from harness.media.video import natural_key, sample_video
from harness.taskspec.schema import (
    AudioSpec,
    CandidateFlagRelevance,
    CandidateSpec,
    IdsTemplateRelevance,
    QrelsRelevance,
    QuerySpec,
    TaskSpec,
    TemplateRelevance,
    VideoSpec,
)
from harness.taskspec.template_refs import attributes_read, depends_only_on
from harness.taskspec.templates import TemplateError, render


@dataclass(frozen=True)
class QueryRecord:
    """One query: its input, its own candidate ids (local ranking) and its relevant ids."""

    input: EncodeInput
    candidate_ids: tuple[str, ...]
    relevance: Mapping[str, float]
    """Relevant candidate id → grade (> 0)."""
    location: str
    """Where the row came from, for error messages."""
    relevance_raw_ids: tuple[Any, ...] = ()
    """For qrels relevance: the ids of ``relevance`` in its order, as the qrels rows store them
    (for the reference's grade pairing, ``--metrics_compat reference``); empty otherwise."""


@dataclass
class TaskData:
    """Everything the engine needs to evaluate one task."""

    queries: list[QueryRecord] = field(default_factory=list)
    candidates: dict[str, EncodeInput] = field(default_factory=dict)
    """Candidate id → input, in first-seen order (this order is the global tie-break)."""
    candidate_locations: dict[str, str] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Provenance of the other tables read: ``corpus`` and ``qrels`` when the task has them."""
    unmatched_positive_rows: list[str] = field(default_factory=list)
    """Locations of the rows whose positive is not among their candidates (only with
    ``relevance.unmatched: score_zero``; otherwise such a row is an error)."""
    missing_images: list[str] = field(default_factory=list)
    """``<location>: <path>`` of each listed image file that is missing and became a slot without
    an image (only with ``image_lists.missing_file: empty_slot``; otherwise it is an error)."""


def build_task_data(
    spec: TaskSpec,
    rows: DatasetRows,
    media_root: Path,
    check_media: bool = True,
    data_basedir: Path | None = None,
    data_source: DataSourceMode = "auto",
) -> TaskData:
    """Render every row of ``rows`` into query and candidate inputs, then the corpus rows.

    The corpus and the qrels are loaded from ``data_basedir`` (by default the folder that
    ``media_root`` was resolved in) with ``data_source``. A qrels document that is not a
    candidate is an error; a query without any relevant document gets an empty relevance.
    """
    base = data_basedir if data_basedir is not None else basedir_of(media_root, spec.media_root)
    qrels = None
    if isinstance(spec.relevance, QrelsRelevance):
        qrels = load_qrels(spec.task, spec.relevance, base, data_source)
        data_sources = {"qrels": qrels.provenance}
    else:
        data_sources = {}
    data = TaskData()
    ids = _CandidateIds(spec.candidates.id_template)
    for row, location in zip(rows.rows, rows.locations, strict=True):
        data.queries.append(_build_query(spec, row, location, media_root, data, check_media, qrels, ids))
    # corpus_pool relevant: only the evaluated queries' positives, in corpus order (SoundDescs)
    wanted = (
        {doc for query in data.queries for doc in query.relevance}
        if spec.candidates.corpus_pool == "relevant"
        else None
    )
    if spec.candidates.corpus is not None:
        corpus = load_corpus(spec.task, spec.candidates.corpus, base, data_source)
        for row, location in zip(corpus.rows, corpus.locations, strict=True):
            context = _RowContext(spec.task, location, media_root, check_media)
            variables = {**row, "row": row, "cand": row}
            if (
                wanted is not None
                and context.render("candidates.id_template", spec.candidates.id_template, variables) not in wanted
            ):
                continue
            _add_candidate(spec, context, variables, row, data)
        data.sources["corpus"] = corpus.provenance if wanted is None else {**corpus.provenance, "pool": "relevant"}
    data.sources.update(data_sources)
    if qrels is not None and getattr(spec.relevance, "unmatched", "error") == "score_zero":
        data.unmatched_positive_rows = [
            q.location for q in data.queries if any(d not in data.candidates for d in q.relevance)
        ]
    elif qrels is not None:
        if wanted is not None:  # the qrels of queries not evaluated name documents left out of the pool
            qrels = replace(qrels, locations={pair: at for pair, at in qrels.locations.items() if pair[1] in wanted})
        check_qrels_documents(spec.task, qrels, data.candidates)
    else:
        _check_positives(spec, data)
    return data


def _check_positives(spec: TaskSpec, data: TaskData) -> None:
    """Every positive must be a candidate its query is ranked against (its own list for local
    ranking, any candidate for global ranking): one that is not would score 0 without a word."""
    unmatched = getattr(spec.relevance, "unmatched", "error")
    for query in data.queries:
        pool: Collection[str] = query.candidate_ids if spec.ranking == "local" else data.candidates
        missing = [positive for positive in query.relevance if positive not in pool]
        if not missing:
            continue
        if unmatched == "score_zero":
            data.unmatched_positive_rows.append(query.location)
            continue
        where = f"the row's {len(pool)} candidates" if spec.ranking == "local" else "the task's candidates"
        shown = ", ".join(repr(c[:40]) for c in list(query.candidate_ids)[:5]) or "none"
        more = ", ..." if len(query.candidate_ids) > 5 else ""
        raise DataError(
            f"task '{spec.task}', {query.location}: relevance: positive {missing[0][:80]!r} is not among {where}, "
            f"so it would score 0 (row candidates: {shown}{more}); "
            "fix the data, or set relevance.unmatched: score_zero where the reference scores such rows 0"
        )


def _build_query(
    spec: TaskSpec,
    row: Mapping[str, Any],
    location: str,
    media_root: Path,
    data: TaskData,
    check_media: bool,
    qrels: Qrels | None = None,
    ids: _CandidateIds | None = None,
) -> QueryRecord:
    context = _RowContext(spec.task, location, media_root, check_media)
    row_variables = {**row, "row": row}
    text = context.render("query.template", spec.query.template, row_variables)
    image: Path | ImageData | None
    if spec.query.image_template is not None:
        rendered = context.render("query.image_template", spec.query.image_template, row_variables)
        image = context.media_path("query.image_template", {"path": rendered}, "path")
    else:
        image = _image(context, "query.image_column", row, spec.query.image_column)
    slots = _image_list(spec, context, "query.image_list_column", row, spec.query.image_list_column, data)
    video = context.video("query.video_template", spec.query.video_template, row_variables, spec.video)
    audio = context.audio("query", spec.query, row_variables, row, spec.audio)
    query_input = context.make_input("query", text, image, video, audio, slots)

    candidate_variables = [
        {**row_variables, "cand": element, "cand_index": index}
        for index, element in enumerate(_candidate_elements(spec, row, row_variables, context))
    ]
    candidate_ids = [
        _add_candidate(spec, context, variables, variables["cand"], data, ids) for variables in candidate_variables
    ]
    raw_ids: tuple[Any, ...] = ()
    if isinstance(spec.relevance, CandidateFlagRelevance):
        relevance = _flagged(spec.relevance, candidate_variables, candidate_ids, context)
    elif isinstance(spec.relevance, QrelsRelevance):
        assert qrels is not None
        query_id = context.render("relevance.query_id_template", spec.relevance.query_id_template, row_variables)
        relevance = dict(qrels.grades.get(query_id, {}))  # empty: the query is left out of scoring
        raw_ids = tuple(qrels.raw_ids[query_id][doc] for doc in relevance)
    else:
        relevance = _relevance(spec, row_variables, candidate_ids, context)
    return QueryRecord(query_input, tuple(candidate_ids), relevance, location, raw_ids)


class _CandidateIds:
    """Renders candidate ids. An id template that depends only on ``cand`` (the usual
    ``{{ cand.tgt_text }}``) is rendered once per distinct candidate value, not once per row that
    lists it (a classification task lists the same labels in every row)."""

    def __init__(self, template: str) -> None:
        self.template = template
        self.by_candidate = depends_only_on(template, frozenset({"cand"}))
        self.rendered: dict[Any, str] = {}

    def render(self, context: _RowContext, variables: Mapping[str, Any]) -> str:
        key = _exact_key(variables["cand"]) if self.by_candidate else None
        if key is None:
            return context.render("candidates.id_template", self.template, variables)
        if key not in self.rendered:
            self.rendered[key] = context.render("candidates.id_template", self.template, variables)
        return self.rendered[key]


_SCALARS = (str, int, float, bool, type(None))


def _exact_key(value: Any) -> Any:
    """A key equal only for values that render alike, or None for values of other kinds: types and
    reprs (so 1, 1.0, True and -0.0 differ) and, for a mapping, its type and its keys in order
    (``{{ cand }}`` and ``cand|join`` render in insertion order)."""
    if isinstance(value, _SCALARS):
        return (type(value).__qualname__, repr(value))
    if isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, _SCALARS) for k, v in value.items()):
        return (type(value).__qualname__, tuple((k, type(v).__qualname__, repr(v)) for k, v in value.items()))
    return None


def _add_candidate(
    spec: TaskSpec,
    context: _RowContext,
    variables: Mapping[str, Any],
    values: Mapping[str, Any],
    data: TaskData,
    ids: _CandidateIds | None = None,
) -> str:
    """Render one candidate (``values`` holds its image column); return its id."""
    if ids is not None:
        candidate_id = ids.render(context, variables)
    else:
        candidate_id = context.render("candidates.id_template", spec.candidates.id_template, variables)
    if candidate_id in data.candidates:
        return candidate_id  # first occurrence wins, as in the reference
    cand_text = context.render("candidates.template", spec.candidates.template, variables)
    if spec.candidates.image_file_template is not None:
        cand_image: Path | ImageData | None = _stored_image(context, spec, variables, values)
    elif spec.candidates.image_template is not None:
        rendered = context.render("candidates.image_template", spec.candidates.image_template, variables)
        cand_image = context.media_path("candidates.image_template", {"path": rendered}, "path")
    else:
        cand_image = _image(context, "candidates.image_column", values, spec.candidates.image_column)
    key, column = "candidates.image_list_column", spec.candidates.image_list_column
    slots = _image_list(spec, context, key, values, column, data)
    cand_video = context.video("candidates.video_template", spec.candidates.video_template, variables, spec.video)
    cand_audio = context.audio("candidates", spec.candidates, variables, values, spec.audio)
    data.candidates[candidate_id] = context.make_input(
        "candidate", cand_text, cand_image, cand_video, cand_audio, slots
    )
    data.candidate_locations[candidate_id] = context.location
    return candidate_id


def _image(context: _RowContext, key: str, values: Mapping[str, Any], column: str | None) -> Path | ImageData | None:
    """The image of ``values[column]``: a path inside ``media_root``, or image data kept in memory."""
    if column is None or column not in values or values[column] is None or isinstance(values[column], str):
        return context.media_path(key, values, column)  # no image, a path, or the missing-column error
    try:
        value = image_value(values[column])
    except TypeError as error:
        raise context.error(key, f"column '{column}': {error}") from None
    if isinstance(value, ImageData):
        return value
    return context.media_path(key, {column: value}, column)  # the path of an image dict, or None


def _image_list(
    spec: TaskSpec, context: _RowContext, key: str, values: Mapping[str, Any], column: str | None, data: TaskData
) -> tuple[ImageSlot, ...] | None:
    """The slots of the image list in ``values[column]`` (see :mod:`harness.data.image_lists`), or
    None without an ``image_list_column``; allowed missing files are recorded in ``data``."""
    if column is None:
        return None
    if column not in values:
        raise context.error(key, f"missing column '{column}' (columns: {', '.join(sorted(values))})")
    reader = SlotReader(context.media_root, context.check_media, spec.image_lists.missing_file)
    try:
        slots = reader.slots(list_entries(values[column]))
    except ImageListError as error:
        raise context.error(key, f"column '{column}': {error}") from None
    data.missing_images.extend(f"{context.location}: {path}" for path in reader.missing)
    return slots


def _stored_image(
    context: _RowContext, spec: TaskSpec, variables: Mapping[str, Any], values: Mapping[str, Any]
) -> Path | ImageData:
    """The file ``candidates.image_file_template`` names when it exists, else the row's image data
    as the reference would have stored it in that file (see the schema)."""
    key, column = "candidates.image_file_template", spec.candidates.image_column
    assert spec.candidates.image_file_template is not None and column is not None
    rendered = context.render(key, spec.candidates.image_file_template, variables).strip()
    try:
        path = resolve_inside(context.media_root, rendered, what="image file")
    except DataError as error:
        raise context.error(key, str(error)) from None
    if is_file(path):
        return path  # what the reference reads, however it was written
    image = _image(context, "candidates.image_column", values, column) if values.get(column) else None
    if image is None:
        raise context.error(key, f"image file not found: {path} (and no image data in column '{column}')")
    try:
        stored_as = storage_format(path.name)
    except MediaError as error:
        raise context.error(key, str(error)) from None
    if not context.check_media:
        return image  # media not read: where the image is is enough
    if isinstance(image, ImageData):  # turned by EXIF as datasets decodes it, then stored
        return ImageData(image.data, stored_as=stored_as, exif_transpose=image.exif_transpose)
    try:  # a path in the image column: the reference's datasets.Image decodes that file too
        return ImageData(image.read_bytes(), stored_as=stored_as, exif_transpose=True)
    except OSError as error:
        raise context.error("candidates.image_column", f"cannot read {image}: {error.strerror}") from None


def _candidate_elements(
    spec: TaskSpec, row: Mapping[str, Any], variables: Mapping[str, Any], context: _RowContext
) -> list[dict[str, Any]]:
    """The row's own candidates: zipped columns, the JSON list an ``items_template`` renders, or
    the sub-folders of the folder a ``folders_template`` renders."""
    if spec.candidates.folders_template is not None:
        return _candidate_folders(spec, variables, context)
    if spec.candidates.items_template is None:
        return _zip_candidate_columns(spec, row, context)
    items = context.render_json("candidates.items_template", spec.candidates.items_template, variables)
    nulls = [i for i, item in enumerate(items) if item is None]
    if nulls:  # a null would render as the text "None"
        raise context.error("candidates.items_template", f"candidate {nulls[0]} is null")
    return [item if isinstance(item, dict) else {"value": item} for item in items]


def _candidate_folders(spec: TaskSpec, variables: Mapping[str, Any], context: _RowContext) -> list[dict[str, Any]]:
    """Sub-folders of the rendered folder, natural-sorted by name, minus ``exclude_folders``.

    The reference lists them with ``os.listdir`` (file-system order); a fixed order here keeps
    candidate order, and so tie-breaks and ``cand_names``, the same on every machine.
    """
    assert spec.candidates.folders_template is not None
    key = "candidates.folders_template"
    relative = context.render(key, spec.candidates.folders_template, variables).strip().rstrip("/")
    try:
        folder = resolve_inside(context.media_root, relative, what="candidate folder")
    except DataError as error:
        raise context.error(key, str(error)) from None
    if not exists(folder) or not folder.is_dir():
        raise context.error(key, f"candidate folder not found: {folder}")
    excluded = set(spec.candidates.exclude_folders)
    names = sorted(
        (entry.name for entry in folder.iterdir() if entry.is_dir() and entry.name not in excluded), key=natural_key
    )
    if not names:
        raise context.error(key, f"no candidate sub-folders in {folder}")
    return [{"name": name, "path": f"{relative}/{name}"} for name in names]


def _flagged(
    relevance: CandidateFlagRelevance,
    candidate_variables: Sequence[Mapping[str, Any]],
    candidate_ids: Sequence[str],
    context: _RowContext,
) -> dict[str, float]:
    """The row's candidates whose flag template renders ``True``; at least one must."""
    positives: dict[str, float] = {}
    for variables, candidate_id in zip(candidate_variables, candidate_ids, strict=True):
        flag = context.render("relevance.template", relevance.template, variables).strip()
        if flag not in ("True", "False"):
            raise context.error("relevance.template", f"must render True or False, got {flag[:40]!r}")
        if flag == "True":
            positives[candidate_id] = 1.0
    if not positives:
        raise context.error("relevance.template", f"no relevant candidate among the row's {len(candidate_ids)}")
    return positives


def _zip_candidate_columns(spec: TaskSpec, row: Mapping[str, Any], context: _RowContext) -> list[dict[str, Any]]:
    if not spec.candidates.columns:
        return []  # the candidates come from the corpus only
    lists: dict[str, Sequence[Any]] = {}
    for column in spec.candidates.columns:
        if column not in row:
            raise context.error("candidates.columns", f"missing column '{column}' (columns: {', '.join(sorted(row))})")
        value = row[column]
        # A scalar is a one-element list (e.g. an MMEB video-retrieval row names one video).
        lists[column] = value if isinstance(value, list | tuple) else [value]
    lengths = {column: len(values) for column, values in lists.items()}
    if len(set(lengths.values())) > 1:
        raise context.error("candidates.columns", f"candidate lists differ in length: {lengths}")
    count = next(iter(lengths.values()))
    if count == 0:
        raise context.error("candidates.columns", "the row has no candidates")
    printed = attributes_read(spec.candidates.template, "cand") | attributes_read(spec.candidates.id_template, "cand")
    for column, values in lists.items():  # a null the templates print would become the text "None"
        nulls = [i for i, value in enumerate(values) if value is None]
        if nulls and column in printed:
            raise context.error("candidates.columns", f"column '{column}': candidate {nulls[0]} is null")
    return [{column: values[i] for column, values in lists.items()} for i in range(count)]


def _relevance(
    spec: TaskSpec, variables: Mapping[str, Any], candidate_ids: list[str], context: _RowContext
) -> dict[str, float]:
    """Relevance from the row (every rule but qrels and candidate_flag)."""
    if isinstance(spec.relevance, TemplateRelevance):
        positive = context.render("relevance.template", spec.relevance.template, variables)
        return {positive: 1.0}
    if isinstance(spec.relevance, IdsTemplateRelevance):
        positives = context.render_json("relevance.template", spec.relevance.template, variables)
        return {str(positive): 1.0 for positive in positives}
    if not candidate_ids:
        raise context.error("relevance", "first_candidate needs candidate columns, but the row has no candidates")
    return {candidate_ids[0]: 1.0}


@dataclass(frozen=True)
class _RowContext:
    """Renders and resolves for one row, turning failures into one-line errors."""

    task: str
    location: str
    media_root: Path
    check_media: bool

    def error(self, key: str, message: str) -> DataError:
        return DataError(f"task '{self.task}', {self.location}: {key}: {message}")

    def render(self, key: str, template: str, variables: Mapping[str, Any]) -> str:
        try:
            return render(template, variables)
        except TemplateError as error:
            raise self.error(key, str(error)) from None

    def render_json(self, key: str, template: str, variables: Mapping[str, Any]) -> list[Any]:
        """Render a template that must produce a JSON list (written with ``| tojson``)."""
        text = self.render(key, template, variables)
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise self.error(key, f"must render a JSON list (use the tojson filter), got {text[:80]!r}") from None
        if not isinstance(value, list):
            raise self.error(key, f"must render a JSON list, got {type(value).__name__}")
        return value

    def media_path(self, key: str, values: Mapping[str, Any], column: str | None) -> Path | None:
        if column is None:
            return None
        if column not in values:
            raise self.error(key, f"missing column '{column}' (columns: {', '.join(sorted(values))})")
        relative = values[column]
        if relative in (None, ""):
            return None
        if not isinstance(relative, str):
            raise self.error(key, f"column '{column}' must hold a path, got {type(relative).__name__}")
        try:
            path = resolve_inside(self.media_root, relative, what="media path")
        except DataError as error:
            raise self.error(key, str(error)) from None
        if self.check_media and not is_file(path):
            raise self.error(key, f"media file not found: {path}")
        return path

    def video(self, key: str, template: str | None, variables: Mapping[str, Any], spec: VideoSpec) -> VideoRef | None:
        """Render ``template`` to a frame folder or video file inside ``media_root`` and sample it."""
        if template is None:
            return None
        relative = self.render(key, template, variables).strip()
        if not relative:
            return None
        try:
            path = resolve_inside(self.media_root, relative, what="media path")
        except DataError as error:
            raise self.error(key, str(error)) from None
        if not self.check_media:
            return VideoRef(source=path, frame_indices=())  # not sampled: media is not read
        if not exists(path):
            raise self.error(key, f"video not found (a frame folder or a video file): {path}")
        try:
            return sample_video(path, spec.num_frames, spec.fewer_frames)
        except DataError as error:
            raise self.error(key, str(error)) from None

    def audio(
        self,
        prefix: str,
        side: QuerySpec | CandidateSpec,
        variables: Mapping[str, Any],
        values: Mapping[str, Any],
        spec: AudioSpec,
    ) -> AudioRef | None:
        """The side's audio (a rendered path or a column's path or data), with its window."""
        source: Path | AudioData | None
        if side.audio_template is not None:
            key = f"{prefix}.audio_template"
            relative = self.render(key, side.audio_template, variables).strip()
            source = self.media_path(key, {"path": relative}, "path")
        elif side.audio_column is not None:
            key, column = f"{prefix}.audio_column", side.audio_column
            if column not in values:
                raise self.error(key, f"missing column '{column}' (columns: {', '.join(sorted(values))})")
            try:
                value = audio_value(values[column])
            except TypeError as error:
                raise self.error(key, f"column '{column}': {error}") from None
            source = value if not isinstance(value, str) else self.media_path(key, {column: value}, column)
        else:
            return None
        if source is None:
            return None
        window: tuple[float, float | None] | None = None
        if side.audio_window_template is not None:
            key = f"{prefix}.audio_window_template"
            try:
                window = audio_window(self.render(key, side.audio_window_template, variables))
            except ValueError as error:
                raise self.error(key, str(error)) from None
            if window is not None and isinstance(source, AudioData):
                raise self.error(key, "a window needs an audio file: the reference reads in-memory audio whole")
        start, end = window if window is not None else (0.0, None)
        return AudioRef(source, start, end, spec.sample_rate, spec.max_seconds, spec.min_seconds)

    def make_input(
        self,
        side: str,
        text: str,
        image: Path | ImageData | None,
        video: VideoRef | None = None,
        audio: AudioRef | None = None,
        slots: tuple[ImageSlot, ...] | None = None,
    ) -> EncodeInput:
        images: tuple[ImageSlot, ...] = ()
        if slots is not None:  # an image list: one image, several (a marker each), or a slot without one
            try:
                image, images = split_slots(text, slots)
            except ImageListError as error:
                raise self.error(f"{side} template", str(error)) from None
            if images and video is not None:
                raise self.error(f"{side} template", "an input has an image list or a video, not both")
        markers = text.count(IMAGE_MARKER)
        # An image list's markers were checked by split_slots (or, beside an empty slot, are the adapter's).
        if not images and image is not None and markers != 1:
            raise self.error(
                f"{side} template", f"an input with an image needs exactly one {{{{ IMAGE }}}} marker, found {markers}"
            )
        if not images and image is None and markers:
            raise self.error(f"{side} template", "the text has an {{ IMAGE }} marker but the row has no image")
        videos = text.count(VIDEO_MARKER)
        if video is not None and videos != 1:
            raise self.error(
                f"{side} template", f"an input with a video needs exactly one {{{{ VIDEO }}}} marker, found {videos}"
            )
        if video is None and videos:
            raise self.error(f"{side} template", "the text has a {{ VIDEO }} marker but the row has no video")
        clips = text.count(AUDIO_MARKER)
        if clips > (1 if audio is not None else 0):
            raise self.error(
                f"{side} template", f"at most one {{{{ AUDIO }}}} marker, for the row's audio; found {clips}"
            )
        return EncodeInput(text=text, image=image, video=video, audio=audio, images=images)
