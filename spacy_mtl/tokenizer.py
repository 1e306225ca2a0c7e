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
"""

from typing import Any, Callable

from spacy.language import Language
from spacy.util import registry


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
