"""The real-text evaluation sets in the repository stay fit to score and held out (issue #16).

`make nlu-eval-real` scores `bot/eval/real_text/` and the second, later hold-out
`bot/eval/real_text_holdout/`; these tests fail as soon as training data copies
one of their lines, a line loses its source row or licence, a set and the
licensed training lines share a source file, the two sets share a line, or the
committed files drift from their picks.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bench" / "nlu"))

import build_real_set as brs  # noqa: E402
import real_text_set as rts  # noqa: E402

BOT_DIR = ROOT / "bot"
SET_DIR = BOT_DIR / "eval" / "real_text"
HOLDOUT_DIR = BOT_DIR / "eval" / "real_text_holdout"
SET_DIRS = (SET_DIR, HOLDOUT_DIR)
TRAINING_SOURCES = BOT_DIR / "data" / "nlu_real_licensed.sources.tsv"


def load(path: Path) -> list[tuple[str, str]]:
    from rasa.shared.nlu.training_data.loading import load_data

    return [(e.get("intent"), e.get("text")) for e in load_data(str(path)).intent_examples]


def _tokens(text: str) -> set[str]:
    return set(rts.normalise(text).split())


def _near_copies(lines: list[tuple[str, str]], of: list[tuple[str, str]], overlap: float) -> list[str]:
    """Texts of ``lines`` sharing at least ``overlap`` of their word tokens (Jaccard) with a text of ``of``."""
    seen = [_tokens(text) for _, text in of]
    return [text for _, text in lines
            if any(len(_tokens(text) & e) / len(_tokens(text) | e) >= overlap for e in seen)]


@pytest.fixture(scope="module")
def real() -> list[tuple[str, str]]:
    return load(SET_DIR / "real_text.yml") + load(HOLDOUT_DIR / "real_text.yml")


@pytest.mark.parametrize("set_dir", SET_DIRS, ids=lambda d: d.name)
def test_each_set_in_the_repository_passes_every_check_against_the_training_data(set_dir):
    intents = yaml.safe_load((BOT_DIR / "domain.yml").read_text(encoding="utf-8"))["intents"]
    found = rts.problems(load(set_dir / "real_text.yml"), rts.read_sources(set_dir / "sources.tsv"),
                         rts.training_texts(BOT_DIR / "data"), intents)
    assert found == []


@pytest.mark.parametrize("set_dir, lines", ((SET_DIR, 200), (HOLDOUT_DIR, 150)), ids=("real_text", "holdout"))
def test_each_set_is_large_enough_to_mean_something(set_dir, lines):
    examples = load(set_dir / "real_text.yml")
    assert len(examples) >= lines
    assert len({intent for intent, _ in examples}) >= 15


def test_the_two_sets_share_no_line_and_no_near_copy():
    """The hold-out was drawn after the first set's errors had been read: it only says something new
    if none of its lines is one of the first set's, picked again or repeated by the source."""
    first = brs.read_picks(SET_DIR / "picks.tsv")
    second = brs.read_picks(HOLDOUT_DIR / "picks.tsv")
    assert {(k, n) for k, n, _, _ in first}.isdisjoint({(k, n) for k, n, _, _ in second})
    assert _near_copies(load(HOLDOUT_DIR / "real_text.yml"), load(SET_DIR / "real_text.yml"), 0.6) == []


def test_the_sets_and_the_licensed_training_lines_share_no_source_file():
    eval_files = {(r["repository"], r["file"]) for d in SET_DIRS for r in rts.read_sources(d / "sources.tsv")}
    training_files = {(r["repository"], r["file"]) for r in rts.read_sources(TRAINING_SOURCES)}
    assert eval_files and training_files
    assert eval_files.isdisjoint(training_files)


def test_the_split_gives_every_source_file_one_side():
    assert brs.EVAL_FILES.isdisjoint(brs.TRAINING_FILES)
    assert brs.EVAL_FILES | brs.TRAINING_FILES == set(brs.FILES)


def test_picks_from_the_other_side_are_refused():
    with pytest.raises(SystemExit, match="other side"):
        brs.build([("stif:unlabelled/batch6.inf", 1, "thank", "")], "eval", {})
    with pytest.raises(SystemExit, match="other side"):
        brs.build([("keps:test", 1, "complain_app", "")], "training", {})


def test_the_committed_files_match_their_picks():
    """Every picked line has its row, in order, so the set can be rebuilt from picks.tsv."""
    for picks, sources in ((SET_DIR / "picks.tsv", SET_DIR / "sources.tsv"),
                           (HOLDOUT_DIR / "picks.tsv", HOLDOUT_DIR / "sources.tsv"),
                           (BOT_DIR / "data" / "nlu_real_licensed.picks.tsv", TRAINING_SOURCES)):
        rows = rts.read_sources(sources)
        picked = brs.read_picks(picks)
        assert [(brs.FILES[k][1], str(n), i) for k, n, i, _ in picked] == \
               [(r["file"], r["line"], r["intent"]) for r in rows]


def test_masking_leaves_no_mention_phone_or_long_number():
    masked = brs.mask("halo @halobca xxxuserxxx no saya 081234567890 rek 1234567890 tgl xxxdatexxx xxxnumberxxx")
    assert masked == "halo @user @user no saya <nomor hp> rek <angka> tgl <tanggal> <angka>"


def test_every_source_repository_is_attributed_in_the_notice():
    notice = (SET_DIR / "NOTICE.md").read_text(encoding="utf-8")
    for path in (SET_DIR / "sources.tsv", HOLDOUT_DIR / "sources.tsv", TRAINING_SOURCES):
        for row in rts.read_sources(path):
            assert row["repository"] in notice and row["license"] in notice


def test_no_licensed_training_line_is_a_near_copy_of_an_eval_line(real):
    """STIF repeats tweets across its files (a labelled line also sits in an unlabelled batch, retweets,
    bots); the file split alone would let a near copy through. Token overlap 0.7 or more is a copy."""
    assert _near_copies(load(BOT_DIR / "data" / "nlu_real_licensed.yml"), real, 0.7) == []
