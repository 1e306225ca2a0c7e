"""python -m spacy mtl augment: new in-domain sentences from a training corpus.

Each sentence annotated for its slots is a template: its words around slot
placeholders, with its intent. A new sentence fills a template's slots with
values of the same slot type seen in sentences of the same intent, so it stays
in the domain and keeps its annotation. A teacher then labels the new sentences
(`distill-targets`) for a student to learn from more text than the gold set.
"""
