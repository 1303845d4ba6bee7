"""MMEB-V3 as the reference defines it: all 190 tasks under the keys of VLM2Vec main's public eval
configs (experiments/public/eval/{image,video,visdoc,audio,text,tool,gui,memory}.yaml @44f991d),
the per-modality groups and the ``mmeb_v3`` group, each task's main score as the reference's
report scores it."""

from __future__ import annotations

import pytest

from harness.cli import main
from harness.taskspec.index import TaskIndex

REFERENCE_KEYS: dict[str, list[str]] = {
    "image": [
        "ImageNet-1K",
        "N24News",
        "HatefulMemes",
        "VOC2007",
        "SUN397",
        "Place365",
        "ImageNet-A",
        "ImageNet-R",
        "ObjectNet",
        "Country211",
        "OK-VQA",
        "A-OKVQA",
        "DocVQA",
        "InfographicsVQA",
        "ChartQA",
        "Visual7W",
        "ScienceQA",
        "VizWiz",
        "GQA",
        "TextVQA",
        "MSCOCO_i2t",
        "VisualNews_i2t",
        "VisDial",
        "MSCOCO_t2i",
        "VisualNews_t2i",
        "WebQA",
        "EDIS",
        "Wiki-SS-NQ",
        "MCMR",
        "CIRR",
        "NIGHTS",
        "OVEN",
        "FashionIQ",
        "MSCOCO",
        "RefCOCO",
        "RefCOCO-Matching",
        "Visual7W-Pointing",
    ],
    "video": [
        "SmthSmthV2",
        "HMDB51",
        "UCF101",
        "K700",
        "Breakfast",
        "MSR-VTT",
        "MSVD",
        "DiDeMo",
        "YouCook2",
        "VATEX",
        "QVHighlight",
        "Charades-STA",
        "MomentSeeker",
        "Video-MME",
        "NExTQA",
        "EgoSchema",
        "MVBench",
        "ActivityNetQA",
    ],
    "visdoc": [
        "ViDoRe_arxivqa",
        "ViDoRe_docvqa",
        "ViDoRe_infovqa",
        "ViDoRe_tabfquad",
        "ViDoRe_tatdqa",
        "ViDoRe_shiftproject",
        "ViDoRe_syntheticDocQA_artificial_intelligence",
        "ViDoRe_syntheticDocQA_energy",
        "ViDoRe_syntheticDocQA_government_reports",
        "ViDoRe_syntheticDocQA_healthcare_industry",
        "ViDoRe_esg_reports_human_labeled_v2",
        "ViDoRe_biomedical_lectures_v2",
        "ViDoRe_biomedical_lectures_v2_multilingual",
        "ViDoRe_economics_reports_v2",
        "ViDoRe_economics_reports_v2_multilingual",
        "ViDoRe_esg_reports_v2",
        "ViDoRe_esg_reports_v2_multilingual",
        "VisRAG_ArxivQA",
        "VisRAG_ChartQA",
        "VisRAG_MP-DocVQA",
        "VisRAG_SlideVQA",
        "VisRAG_InfoVQA",
        "VisRAG_PlotQA",
        "ViDoSeek-page",
        "ViDoSeek-doc",
        "MMLongBench-doc",
        "MMLongBench-page",
    ],
    "audio": [
        "NSynth",
        "ESC-50",
        "UrbanSound8K",
        "SpeechCommands",
        "CREMA-D",
        "SoundDescs",
        "Clotho",
        "AVE",
        "SpeechCOCO",
        "TUTSound",
        "TUTSound(hard)",
    ],
    "text": [
        "text/BRIGHT/aops",
        "text/BRIGHT/biology",
        "text/BRIGHT/earth_science",
        "text/BRIGHT/economics",
        "text/BRIGHT/leetcode",
        "text/BRIGHT/pony",
        "text/BRIGHT/psychology",
        "text/BRIGHT/robotics",
        "text/BRIGHT/stackoverflow",
        "text/BRIGHT/sustainable_living",
        "text/BRIGHT/theoremqa_questions",
        "text/BRIGHT/theoremqa_theorems",
        "text/FollowIR/core17-instructions",
        "text/FollowIR/news21-instructions",
        "text/FollowIR/robust04-instructions",
        "text/InfoSearch/Audience-v1",
        "text/InfoSearch/Clarity-v1",
        "text/InfoSearch/Format-v1",
        "text/InfoSearch/Language-v1",
        "text/InfoSearch/Length-v1",
        "text/InfoSearch/Source-v1",
        "text/LongEmbed/2wikimqa",
        "text/LongEmbed/narrativeqa",
        "text/LongEmbed/needle",
        "text/LongEmbed/passkey",
        "text/LongEmbed/qmsum",
        "text/LongEmbed/summ_screen_fd",
        "text/MultiConIR/Books",
        "text/MultiConIR/Legal Document",
        "text/MultiConIR/Medical Case",
        "text/MultiConIR/Movies",
        "text/MultiConIR/People",
        "text/NanoBEIR/NanoArguAna",
        "text/NanoBEIR/NanoClimateFEVER",
        "text/NanoBEIR/NanoDBPedia",
        "text/NanoBEIR/NanoFEVER",
        "text/NanoBEIR/NanoFiQA2018",
        "text/NanoBEIR/NanoHotpotQA",
        "text/NanoBEIR/NanoMSMARCO",
        "text/NanoBEIR/NanoNFCorpus",
        "text/NanoBEIR/NanoNQ",
        "text/NanoBEIR/NanoQuoraRetrieval",
        "text/NanoBEIR/NanoSCIDOCS",
        "text/NanoBEIR/NanoSciFact",
        "text/NanoBEIR/NanoTouche2020",
        "text/R2MED/Bioinformatics",
        "text/R2MED/Biology",
        "text/R2MED/IIYi-Clinical",
        "text/R2MED/MedQA-Diag",
        "text/R2MED/MedXpertQA-Exam",
        "text/R2MED/Medical-Sciences",
        "text/R2MED/PMC-Clinical",
        "text/R2MED/PMC-Treatment",
    ],
    "tool": [
        "toolde/web/apibank",
        "toolde/web/apigen",
        "toolde/web/mnms",
        "toolde/web/reversechain",
        "toolde/web/rotbench",
        "toolde/web/t-eval-dialog",
        "toolde/web/t-eval-step",
        "toolde/web/taskbench-daily",
        "toolde/web/toolace",
        "toolde/web/toolbench",
        "toolde/web/toolemu",
        "toolde/web/tooleyes",
        "toolde/web/toollens",
        "toolde/web/ultratool",
        "toolde/web/autotools-food",
        "toolde/web/autotools-music",
        "toolde/web/autotools-weather",
        "toolde/web/restgpt-spotify",
        "toolde/web/restgpt-tmdb",
        "toolde/code/craft-math-algebra",
        "toolde/code/craft-tabmwp",
        "toolde/code/craft-vqa",
        "toolde/code/gorilla-huggingface",
        "toolde/code/gorilla-pytorch",
        "toolde/code/gorilla-tensor",
        "toolde/code/toolink",
        "toolde/customized/appbench",
        "toolde/customized/gpt4tools",
        "toolde/customized/gta",
        "toolde/customized/taskbench-huggingface",
        "toolde/customized/taskbench-multimedia",
        "toolde/customized/metatool",
        "toolde/customized/tool-be-honest",
        "toolde/customized/toolalpaca",
        "toolde/customized/toolbench-sam",
    ],
    "gui": [
        "GAE-GUIAct_q2t",
        "GAE-GUIAct_q2s",
        "GAE-GUIAct_s2s",
        "GAE-GUIAct_t2s",
        "GAE-Mind2Web_q2t",
        "GAE-Mind2Web_q2s",
        "GAE-Mind2Web_s2s",
        "GAE-Mind2Web_t2s",
    ],
    "memory": [
        "memory/KnowMeBench",
        "memory/REALTALK",
        "memory/PeerQA",
        "memory/DeepPlanning",
    ],
}
"""Every key of the reference's eval configs, by the file (modality) that holds it."""

OUTSIDE_THE_190 = {"ViDoRe_biomedical_lectures_v2", "ViDoRe_economics_reports_v2", "ViDoRe_esg_reports_v2"}
"""visdoc.yaml's English-only ViDoRe-v2 entries: report_score_v3.py counts the multilingual ones."""

RENAMED = {"TUTSound(hard)": "TUTSound-hard"}
"""Reference keys that are no valid task name here (eval.py maps them; see harness/cli)."""

COUNTS = {"image": 37, "video": 18, "visdoc": 24, "audio": 11, "text": 53, "tool": 35, "gui": 8, "memory": 4}
"""experiments/report_score_v3.py's modality2dataset: 190 tasks."""

MODALITY_GROUPS = {
    "image": "mmeb_v3_image",
    "video": "mmeb_v2_video",
    "visdoc": "mmeb_v2_visdoc",
    "audio": "mmeb_v3_audio",
    "text": "mmeb_v3_text",
    "tool": "mmeb_v3_tool",
    "gui": "mmeb_v3_gui",
    "memory": "mmeb_v3_memory",
}


def task_names(modality: str) -> list[str]:
    return [RENAMED.get(key, key) for key in REFERENCE_KEYS[modality] if key not in OUTSIDE_THE_190]


@pytest.fixture(scope="module")
def index() -> TaskIndex:
    return TaskIndex()


def test_the_reference_configs_hold_190_tasks_of_the_benchmark():
    assert {modality: len(task_names(modality)) for modality in COUNTS} == COUNTS
    assert sum(COUNTS.values()) == 190


@pytest.mark.parametrize("modality", sorted(COUNTS))
def test_every_reference_key_is_a_task_of_its_modality(index: TaskIndex, modality: str):
    for name in task_names(modality):
        assert name in index.tasks, name
        assert index.tasks[name].spec.modality == modality, name


@pytest.mark.parametrize("modality", sorted(COUNTS))
def test_each_modality_group_is_exactly_the_reference_list(index: TaskIndex, modality: str):
    assert sorted(index.expand(MODALITY_GROUPS[modality])) == sorted(task_names(modality))


def test_mmeb_v3_is_all_190_tasks_as_a_mean_over_tasks(index: TaskIndex):
    every = sorted(name for modality in COUNTS for name in task_names(modality))
    assert sorted(index.expand("mmeb_v3")) == every
    assert len(every) == 190
    group = index.groups["mmeb_v3"].spec
    assert group.aggregate == "mean_of_tasks"
    assert sorted(group.task) == sorted(MODALITY_GROUPS.values())


@pytest.mark.parametrize("modality", sorted(COUNTS))
def test_main_scores_are_ndcg_at_5_for_text_and_visdoc_and_hit_at_1_elsewhere(index: TaskIndex, modality: str):
    want = "ndcg_linear@5" if modality in ("text", "visdoc") else "hit@1"
    assert {index.tasks[name].spec.metrics.main for name in task_names(modality)} == {want}


def test_harness_tasks_lists_all_190_under_the_reference_keys(capsys: pytest.CaptureFixture[str]):
    assert main(["tasks", "mmeb_v3"]) == 0
    listed = capsys.readouterr().out
    for modality in COUNTS:
        for name in task_names(modality):
            assert name in listed, name
