"""The transformer a table is distilled from: loaded from a local folder, never a hub."""

import re
from pathlib import Path
from typing import List, Tuple

from .errors import VectorsError

# The files a model folder reads its tokenizer and its weights from, for messages.
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "config.json")
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
# Placeholder pieces that stand for no word (BERT's [unused12]).
_PLACEHOLDER = re.compile(r"^\[[^\]]*\]$")


def load_transformer(path: Path) -> Tuple[object, object]:
    """A Hugging Face tokenizer and model from a local folder, in evaluation mode.

    path (Path): The model folder (config.json, tokenizer files, weights).
    RETURNS (Tuple[PreTrainedTokenizerFast, PreTrainedModel]): The tokenizer and the model.
    """
    if not (path / "config.json").is_file():
        raise VectorsError(
            f"{path}: not a transformer folder (no config.json). Give --transformer the folder "
            "of a Hugging Face model, e.g. the one extract_minilm() unpacks."
        )
    from transformers import AutoModel, AutoTokenizer

    # safetensors, torch, tokenizers and transformers raise their own types for a bad file.
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True, use_fast=True)
    except Exception as err:
        raise VectorsError(_unreadable(path, TOKENIZER_FILES, "tokenizer", err)) from None
    try:
        model = AutoModel.from_pretrained(str(path), local_files_only=True)
    except Exception as err:
        raise VectorsError(_unreadable(path, WEIGHT_FILES, "weights", err)) from None
    model.eval()
    return tokenizer, model


def is_uncased(tokenizer) -> bool:
    """Whether the tokenizer lowercases its input, so a word's case never changes its vector."""
    return tokenizer.tokenize("Hello World QX") == tokenizer.tokenize("hello world qx")


def whole_words(tokenizer) -> List[str]:
    """The tokenizer's pieces that are whole words on their own, in id order.

    A piece counts when its text tokenizes back to that one piece: this leaves out
    continuations (`##ing`), special and placeholder tokens, whatever the tokenizer's kind.
    """
    special = set(tokenizer.all_special_tokens)
    by_id = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    words = []
    for piece, _ in by_id:
        if piece in special or _PLACEHOLDER.match(piece):
            continue
        text = tokenizer.convert_tokens_to_string([piece]).strip()
        if text and not any(ch.isspace() for ch in text) and tokenizer.tokenize(text) == [piece]:
            words.append(text)
    return words


def _unreadable(path: Path, candidates: Tuple[str, ...], what: str, err: Exception) -> str:
    """Name the file a transformer folder could not be loaded from, and what to do."""
    present = [path / name for name in candidates if (path / name).is_file()]
    where = ", ".join(map(str, present)) if present else str(path)
    reason = " ".join(str(err).split()) or type(err).__name__
    return (
        f"{where}: cannot load the transformer's {what} ({type(err).__name__}: {reason}). "
        "A truncated file (an interrupted download or copy) reads so: copy the model folder "
        "again, or give --transformer another one."
    )
