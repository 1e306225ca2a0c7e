"""The console logger adds per-task gradient diagnostics at each evaluation."""

import io
import json

from conftest import SENTENCES, build_nlp, make_examples
from spacy.util import registry

from spacy_mtl.training.loggers import format_gradient_stats


def test_format_groups_norms_cosines_and_weights():
    line = format_gradient_stats(
        {
            "grad_norm_ner": 2.0,
            "grad_norm_textcat": 0.5,
            "grad_cos_ner_textcat": -0.25,
            "loss_weight_ner": 0.3,
        }
    )
    assert line == "|grad| ner 2 textcat 0.5  cos ner_textcat -0.25  weight ner 0.3"


def test_logger_prints_and_records_diagnostics(tmp_path):
    nlp = build_nlp()
    examples = make_examples(nlp, SENTENCES)
    optimizer = nlp.initialize(lambda: examples)
    nlp.config["training"]["score_weights"] = {"cats_score": 0.5, "ents_f": 0.5}
    setup = registry.loggers.get("spacy_mtl.ConsoleLogger.v1")(
        diagnostics_file=tmp_path / "diag.jsonl"
    )
    stdout = io.StringIO()
    log_step, finalize = setup(nlp, stdout, io.StringIO())
    losses = {}
    nlp.update(examples, sgd=optimizer, losses=losses)
    log_step(None)
    info = {"epoch": 0, "step": 1, "score": 0.5, "other_scores": {}, "losses": losses}
    log_step(info)
    finalize()
    assert "mtl_tok2vec: |grad| mtl_ner" in stdout.getvalue()
    record = json.loads((tmp_path / "diag.jsonl").read_text().splitlines()[0])
    assert record["step"] == 1 and record["stats"]["grad_norm_mtl_textcat"] > 0
