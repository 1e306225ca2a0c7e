"""`python -m spacy mtl debug data CONFIG`: what a multi-task training corpus lacks or gets wrong.

spaCy's `debug data` has no section for mtl_textcat or mtl_ner, reads one train
corpus as one file, and knows nothing of missing annotation; this command reads
the corpora as `spacy train` does (every source of the multi-task readers) and
checks each task on the documents annotated for it.
"""
