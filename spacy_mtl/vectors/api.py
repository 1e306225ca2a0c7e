"""init_vectors(): the words, their vectors by one method, and the spaCy vectors folder."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Literal, Tuple

import numpy
import srsly

from ..atomic import OutputError, check_output_folder, is_pipeline_folder, replace_folder
from .corpus import count_corpus_words
from .errors import VectorsError
from .vocabulary import build_vocabulary, row_keys


@dataclass
class VectorsSettings:
    """How a table is made (the command's options).

    transformer (Path): The local transformer folder.
    corpora (List[Path]): .spacy corpora whose words come first.
    method (str): "pooled" (ours) or "model2vec".
    dims (int): PCA dimensions, 0 or more; 0 for no PCA (the transformer's width).
    sif (float): SIF coefficient; 0 for none.
    lang (str): The language of the vectors' nlp (that of the pipelines that use them).
    transformer_words (bool): Also give a row to the transformer's whole-word pieces.
    """

    transformer: Path
    corpora: List[Path] = field(default_factory=list)
    method: Literal["pooled", "model2vec"] = "pooled"
    dims: int = 256
    sif: float = 1e-4
    lang: str = "en"
    transformer_words: bool = True


@dataclass
class VectorsSummary:
    """What was written: rows, width, whether keys ignore case, and the vectors' name."""

    n_rows: int
    width: int
    case: str
    name: str


def check_settings(settings: VectorsSettings) -> None:
    """Refuse settings that cannot make a table, naming the option.

    The command line's types and ranges have refused an unknown --method and a --dims below 0;
    what they cannot say (a NaN --sif, a language, no words at all) is checked here.
    """
    import spacy.util

    if not 0 <= settings.sif < 1:
        raise VectorsError(f"--sif {settings.sif}: give a coefficient in [0, 1); 0 for none.")
    try:
        spacy.util.get_lang_class(settings.lang)
    except ImportError:
        raise VectorsError(f"--lang {settings.lang!r}: not a language spaCy has.") from None
    if not settings.corpora and not settings.transformer_words:
        raise VectorsError("no words: give --corpus, or leave the transformer's words in.")
    if settings.method == "model2vec":
        from .model2vec_method import require_model2vec

        require_model2vec()


def init_vectors(output: Path, settings: VectorsSettings) -> VectorsSummary:
    """Distill a static table from the transformer and write it as spaCy vectors at OUTPUT.

    output (Path): The folder to write (loadable by `[initialize] vectors`).
    settings (VectorsSettings): How to make it.
    RETURNS (VectorsSummary): What was written.
    """
    import spacy
    from spacy.vectors import Vectors

    from .transformer import is_uncased, load_transformer, whole_words

    check_settings(settings)
    try:
        check_output_folder(
            output,
            [settings.transformer, *settings.corpora],
            replace=is_vectors_folder(output),
            refusal=(
                "It is not a table that init vectors wrote (a pipeline with components, or "
                "another folder), so it is not replaced: give another OUTPUT_DIR, or remove it."
            ),
        )
    except OutputError as err:
        raise VectorsError(str(err)) from None
    nlp = spacy.blank(settings.lang)
    counts = count_corpus_words(settings.corpora, nlp.vocab)
    tokenizer, model = load_transformer(settings.transformer)
    width = int(model.config.hidden_size)
    check_dims(settings, width)
    lowercase = is_uncased(tokenizer)
    extra = whole_words(tokenizer) if settings.transformer_words else []
    words = build_vocabulary(counts, extra, lowercase=lowercase)
    if settings.method == "pooled":
        check_dims(settings, width, len(words))
    keys, matrix = _embed(words, tokenizer, model, settings)
    if not keys:
        raise VectorsError("no word has a vector: the transformer reads every word as unknown.")
    if settings.method == "pooled":
        check_dims(settings, width, len(keys))
    case = "case-insensitive" if lowercase else "case-sensitive"
    name = f"{settings.lang}_mtl_{settings.method}_{settings.transformer.name}".replace("-", "_")
    nlp.vocab.vectors = Vectors(strings=nlp.vocab.strings, data=matrix, name=name)
    for key, row in row_keys(keys, counts, lowercase=lowercase):
        nlp.vocab.vectors.add(key, row=row)
    nlp.meta["name"] = "vectors"
    nlp.meta["description"] = (
        f"Static vectors distilled by spacy mtl init vectors (--method {settings.method}, "
        f"--dims {settings.dims}, --sif {settings.sif}) from {settings.transformer.name}."
    )
    replace_folder(output, nlp.to_disk)
    return VectorsSummary(len(keys), matrix.shape[1], case, name)


def is_vectors_folder(folder: Path) -> bool:
    """Whether `folder` holds what init vectors writes, so that a rerun may replace it: a saved
    pipeline without components whose vocab has a vectors table. A trained pipeline, or any
    other folder, is never taken for one.

    folder (Path): The output folder.
    RETURNS (bool): True for a vectors-only pipeline folder.
    """
    if not is_pipeline_folder(folder):
        return False
    try:
        meta = srsly.read_json(folder / "meta.json")
    except ValueError:
        return False
    vectors = meta.get("vectors") if isinstance(meta, dict) else None
    return (
        isinstance(vectors, dict)
        and bool(vectors.get("width"))
        and not meta.get("pipeline")
        and not meta.get("components")
    )


def check_dims(settings: VectorsSettings, width: int, n_rows: int = 0) -> None:
    """Refuse a --dims wider than the table can be: the transformer's width, and for pooled
    (PCA over the table's own rows) its number of rows.

    settings (VectorsSettings): The settings.
    width (int): The transformer's hidden size.
    n_rows (int): The table's words or rows so far; 0 when not known yet.
    """
    most = min(width, n_rows) if n_rows else width
    if settings.dims > most:
        why = f"the transformer's width is {width}"
        if n_rows and n_rows < width:
            why = f"PCA over the table's {n_rows} words gives no more"
        raise VectorsError(
            f"--dims {settings.dims}: --method {settings.method} gives at most {most} "
            f"dimensions here ({why}). Give --dims {most} or less, or 0 for the "
            "transformer's width."
        )


def _embed(
    words: List[str], tokenizer, model, settings: VectorsSettings
) -> Tuple[List[str], numpy.ndarray]:
    if settings.method == "model2vec":
        from .model2vec_method import model2vec_vectors

        return model2vec_vectors(words, settings.transformer, dims=settings.dims, sif=settings.sif)
    from .pooled import pooled_vectors
    from .postprocess import pca, sif_weights

    keys, matrix = pooled_vectors(words, tokenizer, model)
    if settings.dims > 0 and len(keys) > 1:
        matrix = pca(matrix, settings.dims)
    matrix = matrix * sif_weights(len(keys), settings.sif)[:, None]
    return keys, numpy.ascontiguousarray(matrix, dtype=numpy.float32)
