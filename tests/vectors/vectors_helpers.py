"""Helpers for the `init vectors` tests: a tiny BERT written for them (a real transformers model,
random weights, 60 pieces) and small corpora."""

from pathlib import Path

WORDS = (
    "fly from to book a flight play some jazz weather in rain will it the new album by "
    "oslo lima quito cairo kyoto today tomorrow music song film movie show me what is "
    "hot cold snow sun sunny put on start my list shuffle songs hear want i need get"
).split()


def make_tiny_bert(folder: Path) -> Path:
    """Save a 1-layer, 32-wide uncased BERT and its WordPiece tokenizer in `folder`."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unused0]"]
    pieces = specials + WORDS + ["##s", "##ing", "##er", "o", "s", "l", "q", "u", "x"]
    (folder / "vocab.txt").write_text("\n".join(pieces) + "\n", encoding="utf8")
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    tokenizer.save_pretrained(str(folder))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(pieces),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(str(folder))
    return folder


def write_corpus(path: Path, texts) -> Path:
    """A .spacy file of blank English documents for these texts."""
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    DocBin(docs=[nlp.make_doc(text) for text in texts]).to_disk(path)
    return path
