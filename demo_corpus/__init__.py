"""The demo corpora of spacy_mtl: their generators, and corpora of any size drawn from them.

Not part of the spacy_mtl package (setup.cfg ships only spacy_mtl*): the workflow, the
tests and the benchmarks run it from the repository root.

    english   the English demo corpus, data/demo (travel and smart-home voice assistant)
    chinese   the Chinese demo corpus, data/demo_zh (smart speaker, travel and home)
    draw      corpora of any size from the English templates, for the benchmarks
"""
