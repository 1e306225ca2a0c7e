"""`python -m spacy_mtl evaluate`: per-task scores, error analysis and an offline HTML report.

The scores are the heads' own (`TaskHead.score`, spacy_mtl.scorers), so they
equal what training reports; this package adds what those numbers hide: the
confused intents, slot errors by kind, the sentences that are wrong, and a
second pipeline side by side.
"""
