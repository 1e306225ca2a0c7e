"""Every config follows `--nlp.lang`: the language's own tokenizer, as `spacy init config` gives.

The configs name `spacy_mtl.LanguageTokenizer.v1` (spacy_mtl/tokenizer.py), which builds the
tokenizer the language's default config names.
"""

from pathlib import Path

import pytest
import spacy
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import load_config, load_model_from_config

REPO = Path(__file__).resolve().parent.parent
CONFIGS = sorted((REPO / "configs").glob("*.cfg"))
# en: rule-based; zh: spaCy's character segmenter; ja: SudachiPy with sudachidict_core
# (both from PyPI, in the test extra; no download at run time).
LANGS = ["en", "zh", "ja"]
TEXTS = {
    "en": "don't wake me at 6:30pm",
    "zh": "明天早上六点半叫我",
    "ja": "明日の朝六時に起こして",
}
JIEBA = {"@tokenizers": "spacy.zh.ChineseTokenizer", "segmenter": "jieba"}


def load(path: Path, **overrides) -> spacy.Language:
    config = load_config(path, overrides=overrides)
    return load_model_from_config(config, auto_fill=True, validate=True)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_takes_the_tokenizer_of_the_language(path, lang):
    nlp = load(path, **{"nlp.lang": lang})
    assert nlp.lang == lang
    assert nlp.config["nlp"]["tokenizer"] == {"@tokenizers": "spacy_mtl.LanguageTokenizer.v1"}
    stock = spacy.blank(lang)
    assert type(nlp.tokenizer) is type(stock.tokenizer)
    text = TEXTS[lang]
    assert [t.text for t in nlp.make_doc(text)] == [t.text for t in stock(text)]


def test_chinese_default_is_the_character_segmenter():
    nlp = load(REPO / "configs" / "cnn.cfg", **{"nlp.lang": "zh"})
    assert nlp.tokenizer.segmenter == "char"
    doc = nlp.make_doc("我要听吴雨霏的歌")
    assert [t.text for t in doc] == list("我要听吴雨霏的歌")
    # The entity of the error message aligns with the tokens now.
    span = doc.char_span(3, 6, label="singer_name")
    assert span is not None and span.text == "吴雨霏"


def test_chinese_space_inside_an_entity_is_whitespace_not_a_token():
    nlp = load(REPO / "configs" / "cnn.cfg", **{"nlp.lang": "zh"})
    text = "播放Let It Be"
    doc = nlp.make_doc(text)
    assert doc.text == text
    assert " " not in [t.text for t in doc]
    span = doc.char_span(2, len(text), label="song")
    assert span is not None and span.text == "Let It Be"


def test_chinese_with_jieba_through_an_override():
    """What `--nlp.tokenizer '{"@tokenizers": ..., "segmenter": "jieba"}'` does."""
    nlp = load(REPO / "configs" / "cnn.cfg", **{"nlp.lang": "zh", "nlp.tokenizer": JIEBA})
    assert nlp.config["nlp"]["tokenizer"] == JIEBA
    doc = nlp.make_doc("明天上海的天气怎么样")
    words = [t.text for t in doc]
    assert "".join(words) == "明天上海的天气怎么样"
    # jieba segments words, not characters.
    assert len(words) < len(doc.text) and "上海" in words


def test_japanese_segments_words_with_sudachi():
    nlp = load(REPO / "configs" / "cnn.cfg", **{"nlp.lang": "ja"})
    doc = nlp.make_doc("明日東京の天気を教えて")
    words = [t.text for t in doc]
    assert "".join(words) == "明日東京の天気を教えて"
    assert "東京" in words and len(words) < len(doc.text)


@pytest.mark.parametrize("lang", LANGS)
def test_serialized_pipeline_keeps_the_tokenizer(lang, tmp_path):
    nlp = load(REPO / "configs" / "cnn.cfg", **{"nlp.lang": lang})
    text = {"en": "wake me at seven", "zh": "明天早上七点叫我", "ja": "明日七時に起こして"}[lang]
    doc = nlp.make_doc(text)
    gold = {"cats": {"alarm": 1.0, "other": 0.0}, "entities": [(0, len(doc[0].text), "date")]}
    nlp.initialize(lambda: [Example.from_dict(doc, gold)])
    before = [t.text for t in nlp.make_doc(text)]
    nlp.to_disk(tmp_path / "nlp")
    loaded = spacy.load(tmp_path / "nlp")
    assert loaded.lang == lang
    doc = loaded(text)
    assert isinstance(doc, Doc) and [t.text for t in doc] == before
