"""Serve a trained pipeline over HTTP: a JSON API and a demo page (``python -m spacy_mtl serve``).

Needs the `serve` extra: ``pip install 'spacy-mtl[serve]'`` (FastAPI and uvicorn).
The application is built by `spacy_mtl.serve.app.create_app`; this package
imports nothing from FastAPI itself, so the command line can say what is missing.
"""
