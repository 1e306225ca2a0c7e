"""Our own distillation, no new dependency: each word through the transformer alone, pooled.

model2vec's idea (Tulkens and van Dongen, 2024): a word's vector is the mean of
the transformer's output states over the word's pieces when the word is the whole
input. The [CLS] and [SEP] states are left out: they are alike for every word and
would pull all vectors towards one point.
"""

from typing import List, Tuple

import numpy

# Pieces kept of one word: longer "words" (URLs, hashes) say little past that.
MAX_PIECES = 32


def pooled_vectors(
    words: List[str], tokenizer, model, *, batch_size: int = 256
) -> Tuple[List[str], numpy.ndarray]:
    """The mean output state over each word's pieces.

    Words are batched by their number of pieces, so padding is small and the
    batches, hence the numbers, are the same on every run.

    words (List[str]): The words.
    tokenizer (PreTrainedTokenizerFast): The transformer's tokenizer.
    model (PreTrainedModel): The transformer.
    batch_size (int): Words per forward pass.
    RETURNS (Tuple[List[str], numpy.ndarray]): The words that have known pieces and their
        vectors. A word the tokenizer drops (a control character) or reads as [UNK] only
        is left out: it would share the one [UNK] vector with every unknown word.
    """
    pieces = [tokenizer.encode(word, add_special_tokens=False)[:MAX_PIECES] for word in words]
    unknown = tokenizer.unk_token_id
    kept = sorted((len(ids), i) for i, ids in enumerate(pieces) if set(ids) - {unknown})
    order = [i for _, i in kept]
    width = model.config.hidden_size
    out = numpy.zeros((len(order), width), dtype=numpy.float32)
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        out[start : start + len(batch)] = _pool_batch([pieces[i] for i in batch], tokenizer, model)
    # Back to the words' own order (their rank), which the SIF weights read.
    ranked = sorted(range(len(order)), key=lambda row: order[row])
    return [words[order[row]] for row in ranked], out[ranked]


def _pool_batch(batch: List[List[int]], tokenizer, model) -> numpy.ndarray:
    import torch

    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    lead = [cls_id] if cls_id is not None else []
    tail = [sep_id] if sep_id is not None else []
    length = len(lead) + max(len(ids) for ids in batch) + len(tail)
    pad = tokenizer.pad_token_id or 0
    input_ids = torch.full((len(batch), length), pad, dtype=torch.long)
    attention = torch.zeros((len(batch), length), dtype=torch.long)
    word_mask = torch.zeros((len(batch), length), dtype=torch.float32)
    for row, ids in enumerate(batch):
        sequence = lead + ids + tail
        input_ids[row, : len(sequence)] = torch.tensor(sequence)
        attention[row, : len(sequence)] = 1
        word_mask[row, len(lead) : len(lead) + len(ids)] = 1.0
    with torch.inference_mode():
        hidden = model(input_ids=input_ids, attention_mask=attention).last_hidden_state.float()
    summed = (hidden * word_mask[:, :, None]).sum(dim=1)
    return (summed / word_mask.sum(dim=1, keepdim=True)).numpy()
