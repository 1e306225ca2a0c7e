"""`update`: continue training a trained pipeline on new documents without forgetting.

New intents and slot types grow the heads' output layers (growth.py); the old
pipeline's predictions are soft targets on the new and replayed documents
(targets.py); spaCy's own loop trains on the pipeline's config (loop.py).
`spacy_mtl.update.api.update_pipeline` is the entry point from Python; it is not
imported here, so that `python -m spacy_mtl --help` does not load torch.
"""
