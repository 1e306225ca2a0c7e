"""The tokenizer of whatever language a config is trained for.

spaCy's `[nlp] tokenizer` names one tokenizer, so a config written for English
(`spacy.Tokenizer.v1`) keeps English rules when it is trained with
`--nlp.lang zh`, and gold entities in Chinese text do not align with its
tokens. Leaving the key out makes spaCy fill in the language's own tokenizer
when it auto-fills the config, but `spacy debug config` (which does not
auto-fill) then rejects the config as incomplete. `spacy_mtl.LanguageTokenizer.v1`
keeps the config complete and builds, for the language of the `nlp` object, the
tokenizer that language's default config names: spaCy's rule-based tokenizer
for English, the character segmenter for Chinese, SudachiPy for Japanese, and so
on. Exactly what `spacy init config --lang xx` would write.

To choose another tokenizer, override the key with a complete block, e.g.
`--nlp.tokenizer '{"@tokenizers":"spacy.zh.ChineseTokenizer","segmenter":"jieba"}'`.

A trained pipeline keeps its language: its tokenizer is saved for it, so a
`lang` edited in its `config.cfg` either fails deep in spaCy ("Can't read file:
.../tokenizer/cfg", for Chinese) or loads another language's rules silently.
`check_saved_language` says so before loading.
"""

from pathlib import Path
from typing import Any, Callable, Union

import srsly
from spacy.language import Language
from spacy.util import registry
from thinc.api import Config


class LanguageMismatchError(ValueError):
    """A pipeline's config.cfg names another language than the one it was saved for."""


@registry.tokenizers("spacy_mtl.LanguageTokenizer.v1")
def create_language_tokenizer() -> Callable[[Language], Any]:
    """Create the factory of the tokenizer of the nlp object's language.

    RETURNS (Callable[[Language], Any]): Builds the tokenizer that the default
        config of `type(nlp)` (e.g. spacy.lang.zh.Chinese) names, with that
        config's settings.
    """

    def language_tokenizer_factory(nlp: Language) -> Any:
        block = type(nlp).default_config["nlp"]["tokenizer"]
        factory = registry.resolve({"tokenizer": block})["tokenizer"]
        return factory(nlp)

    return language_tokenizer_factory


def check_saved_language(pipeline: Union[str, Path]) -> None:
    """Raise LanguageMismatchError if a pipeline folder's config names another language.

    The language the pipeline was saved for is the one in its meta.json (spaCy
    writes both files from the same nlp object); anything that is not a pipeline
    folder with both files, or that cannot be read, is left to spacy.load.

    pipeline (Union[str, Path]): A path, or an installed package name (not checked).
    """
    path = Path(pipeline)
    config_path, meta_path = path / "config.cfg", path / "meta.json"
    try:
        lang = Config().from_disk(config_path, interpolate=False)["nlp"]["lang"]
        saved = srsly.read_json(meta_path)["lang"]
    except Exception:  # not a pipeline folder, or unreadable: spacy.load explains
        return
    if lang != saved:
        raise LanguageMismatchError(
            f'{config_path} says lang = "{lang}" in [nlp], but the pipeline was trained for '
            f"{saved!r} and its tokenizer saved for it ({meta_path} says {saved!r}): the "
            f'config\'s language does not match the saved tokenizer. Set lang = "{saved}" '
            "again; to change the language, retrain (spacy train ... --nlp.lang)."
        )
