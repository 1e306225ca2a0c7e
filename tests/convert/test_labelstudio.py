"""convert labelstudio (convert/labelstudio.py): choices, labels, alignment, hostile exports."""

import json
import os
import warnings

import pytest
from convert_files import load
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.util import make_tempdir

from spacy_mtl.__main__ import main
from spacy_mtl.annotation import has_cats, has_ents
from spacy_mtl.convert import ConversionError, read_labelstudio

FUZZ = settings(
    max_examples=300 if os.environ.get("SPACY_MTL_FUZZ") == "long" else 25, deadline=None
)


def choices(*chosen):
    value = {"choices": list(chosen)}
    return {"from_name": "intent", "to_name": "text", "type": "choices", "value": value}


def label(text, start, end, name):
    value = {"start": start, "end": end, "text": text[start:end], "labels": [name]}
    return {"from_name": "label", "to_name": "text", "type": "labels", "value": value}


def task(task_id, text, *results, cancelled=False):
    annotation = {"result": list(results), "was_cancelled": cancelled}
    return {"id": task_id, "data": {"text": text}, "annotations": [annotation]}


def read(tmp, exported, **kwargs):
    path = tmp / "export.json"
    path.write_text(json.dumps(exported), encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        docs = read_labelstudio(path, **kwargs)
    return docs, [str(w.message) for w in caught]


def test_choices_and_labels_become_categories_and_entities():
    text = "fly from oslo to lima"
    tasks = [
        task(1, text, choices("flight"), label(text, 9, 13, "from"), label(text, 17, 21, "to")),
        task(2, "a room please", choices("hotel")),
        task(3, "skipped", choices("hotel"), cancelled=True),
        {"id": 4, "data": {"text": "only predicted"}, "predictions": [{"result": []}]},
        task(5, "what time is it", {"type": "rating", "value": {"rating": 3}}),
    ]
    with make_tempdir() as tmp:
        docs, caught = read(tmp, tasks)
    assert [d.text for d in docs] == [text, "a room please", "what time is it"]
    assert docs[0].cats == {"flight": 1.0, "hotel": 0.0}
    assert [(e.text, e.label_) for e in docs[0].ents] == [("oslo", "from"), ("lima", "to")]
    # The project marks entities: an annotation without labels says "none here".
    assert docs[1].cats == {"flight": 0.0, "hotel": 1.0} and not docs[1].ents
    assert all(t.ent_iob_ == "O" for t in docs[1])
    # No choices: the categories stay missing, never negative.
    assert not has_cats(docs[2]) and has_ents(docs[2])
    assert (
        "2 tasks without an annotation" in caught[0]
        and "1 results of other types (rating)" in caught[0]
    )


def test_misaligned_span_is_reported_with_its_task_and_left_missing():
    text = "fly to oslo"
    with make_tempdir() as tmp:
        docs, caught = read(tmp, [task(17, text, choices("flight"), label(text, 8, 11, "city"))])
        assert "'slo' as city (task 17)" in caught[0]
        assert [t.ent_iob_ for t in docs[0]] == ["O", "O", ""]
        with pytest.raises(ConversionError, match="task 17"):
            read(tmp, [task(17, text, label(text, 8, 11, "city"))], strict=True)


def test_two_annotators_who_disagree_are_reported():
    text = "fly to oslo"
    two = task(3, text, choices("flight"))
    two["annotations"].append({"result": [choices("hotel")]})
    with make_tempdir() as tmp:
        docs, caught = read(tmp, [two, task(4, "a room", choices("hotel"))], exclusive=True)
    assert (
        not has_cats(docs[0])
        and "task 3 annotation 1, task 3 annotation 2: intents 'flight', 'hotel'" in caught[0]
    )


@pytest.mark.parametrize(
    "content,problem",
    [
        (b"", "the file is empty"),
        (b'[{"id": 1, "data": {"text": "a"},\n "annotations": [}]', "line 2: invalid JSON"),
        (b'[{"id": 1, "text": "a", "label": []}]', 'task 1: no "data"'),
        (b'{"id": 2, "data": {"text": "ab\\ud800"}, "annotations": []}', "task 2: .* surrogate"),
        (b'[{"id": 3, "data": {"text": "caf\xe9"}, "annotations": []}]', "line 1: not valid UTF-8"),
        (
            b'[{"id": 4, "data": {"text": ""}, "annotations": [{"result": [{"type": "choices", '
            b'"value": {"choices": ["a"]}}]}]}]',
            "task 4: the text",
        ),
        (
            b'[{"id": 5, "data": {"text": "abc"}, "annotations": [{"result": [{"type": "labels", '
            b'"value": {"start": 1, "end": 7, "labels": ["x"]}}]}]}]',
            "task 5: the entity offsets",
        ),
        (
            b'[{"id": 6, "data": {"text": "abc"}, "annotations": [{"result": [{"type": "labels", '
            b'"value": {"start": 0, "end": 2, "text": "bc", "labels": ["x"]}}]}]}]',
            "task 6: the span",
        ),
        (
            b'[{"id": 7, "data": {"a": "x", "b": "y"}, "annotations": [{"result": [{"type": '
            b'"choices", "value": {"choices": ["a"]}}]}]}]',
            "task 7: no text",
        ),
        (
            b'[{"id": 8, "data": {"text": "a", "text": "b"}, "annotations": []}]',
            "task 8: the key 'text' appears twice",
        ),
    ],
)
def test_bad_export_names_the_task_or_line(content, problem):
    with make_tempdir() as tmp:
        path = tmp / "export.json"
        path.write_bytes(content)
        with pytest.raises(ConversionError, match=problem) as exc_info:
            read_labelstudio(path)
    assert str(path) in str(exc_info.value)


def test_bom_output_as_input_and_cli(capsys):
    with make_tempdir() as tmp:
        path = tmp / "export.json"
        tasks = json.dumps([task(1, "fly to oslo", choices("flight"))])
        path.write_bytes(b"\xef\xbb\xbf" + tasks.encode())
        assert main(["convert", "labelstudio", str(path), str(path)]) == 1
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")
        assert main(["convert", "labelstudio", str(path), str(tmp / "out.spacy")]) == 0
        assert [d.cats for d in load(tmp / "out.spacy")] == [{"flight": 1.0}]
    err = capsys.readouterr().err
    assert "convert failed" in err and "Traceback" not in err


TEXT = st.text(st.sampled_from("ab é東"), min_size=1, max_size=30).filter(str.strip)


@FUZZ
@given(TEXT, st.data())
def test_property_spans_become_entities_or_are_reported(text, data):
    """Any character spans, trimmed of blanks: aligned ones are entities, the others named
    and left missing."""
    cuts = sorted(data.draw(st.sets(st.integers(0, len(text)), min_size=2, max_size=6)))
    selected = [(s, e) for s, e in zip(cuts[::2], cuts[1::2]) if text[s:e].strip()]
    results = [label(text, s, e, "x") for s, e in selected]
    with make_tempdir() as tmp:
        docs, caught = read(tmp, [task(1, text, choices("a"), *results)], lang="xx")
    doc = docs[0]
    spans = [
        (s + len(text[s:e]) - len(text[s:e].lstrip()), e - len(text[s:e]) + len(text[s:e].rstrip()))
        for s, e in selected
    ]
    aligned = [(s, e) for s, e in spans if doc.char_span(s, e) is not None]
    assert [(e.start_char, e.end_char) for e in doc.ents] == aligned
    assert bool(caught) == (len(aligned) < len(spans))
    for s, e in spans:
        if (s, e) not in aligned:
            assert all(t.ent_iob == 0 for t in doc.char_span(s, e, alignment_mode="expand"))


def image_task(task_id, url, *results):
    """A task of an image project: the data is the image's URL."""
    annotation = {"id": 100 + task_id, "result": list(results), "was_cancelled": False}
    annotation.update({"ground_truth": False, "lead_time": 2.5, "task": task_id})
    return {"id": task_id, "data": {"image": url}, "annotations": [annotation], "project": 3}


def image_choice(name):
    value = {"choices": [name]}
    return {
        "id": "a1",
        "from_name": "choice",
        "to_name": "image",
        "type": "choices",
        "value": value,
    }


def test_image_classification_export_is_refused_naming_the_task(capsys):
    """Issue 6: an image URL is never the text."""
    tasks = [image_task(11, "https://example.com/cats/1.jpg", image_choice("Cat"))]
    tasks.append(image_task(12, "/data/upload/3/dog.png", image_choice("Dog")))
    with make_tempdir() as tmp:
        with pytest.raises(ConversionError, match="task 11: data\\['image'\\] is") as exc_info:
            read(tmp, tasks)
        assert str(tmp / "export.json") in str(exc_info.value)
        assert "URL" in str(exc_info.value) and "--text-key" in str(exc_info.value)
        with pytest.raises(ConversionError, match="task 12: .*a URL"):
            read(tmp, tasks[1:])
        args = ["convert", "labelstudio", str(tmp / "export.json"), str(tmp / "out.spacy")]
        assert main(args) == 1 and not (tmp / "out.spacy").exists()
    err = capsys.readouterr().err
    assert "task 12" in err and "Traceback" not in err


def test_image_only_export_stops_with_no_annotated_documents(capsys):
    box = {"x": 10.0, "y": 20.0, "width": 30.0, "height": 40.0, "rectanglelabels": ["Cat"]}
    result = {"from_name": "tag", "to_name": "img", "type": "rectanglelabels", "value": box}
    with make_tempdir() as tmp:
        path = tmp / "export.json"
        path.write_text(json.dumps([image_task(1, "https://example.com/1.jpg", result)]))
        assert main(["convert", "labelstudio", str(path), str(tmp / "out.spacy")]) == 1
        assert not (tmp / "out.spacy").exists()
    err = capsys.readouterr().err
    assert "no annotated documents" in err and "1 results of other types (rectanglelabels)" in err


def test_the_text_key_is_the_one_the_results_annotate():
    """No "text" key: the labels' to_name, else the string their offsets and text fit."""
    text = "fly to oslo"
    named = task(1, text, label(text, 7, 11, "city"))
    named["data"] = {"title": "Trip", "utterance": text}
    for result in named["annotations"][0]["result"]:
        result["to_name"] = "utterance"
    fitted = task(2, "a room in lima", label("a room in lima", 10, 14, "city"))
    fitted["data"] = {"speaker": "bob", "dialogue": "a room in lima"}
    picked = task(3, "x", choices("hotel"))
    picked["data"] = {"a": "ignored", "b": "a bed please"}
    with make_tempdir() as tmp:
        docs, _ = read(tmp, [named, fitted])
        assert [d.text for d in docs] == [text, "a room in lima"]
        assert [e.text for d in docs for e in d.ents] == ["oslo", "lima"]
        with pytest.raises(ConversionError, match="task 3: no text to convert.*--text-key"):
            read(tmp, [picked])
        docs, _ = read(tmp, [picked], text_key="b")
        assert [(d.text, d.cats) for d in docs] == [("a bed please", {"hotel": 1.0})]
        with pytest.raises(ConversionError, match="task 3: its \"data\" has no 'c'"):
            read(tmp, [picked], text_key="c")
        path = tmp / "export.json"
        args = ["convert", "labelstudio", str(path), str(tmp / "o.spacy"), "--text-key", "b"]
        assert main(args) == 0 and load(tmp / "o.spacy")[0].text == "a bed please"


def test_blanks_at_span_edges_are_trimmed():
    """Issue 6: "Boston " selected with its trailing space is the entity "Boston"."""
    text = "fly to Boston today from  Oslo"
    spans = [label(text, 7, 14, "city"), label(text, 24, 30, "city"), label(text, 19, 20, "x")]
    with make_tempdir() as tmp:
        docs, caught = read(tmp, [task(1, text, *spans)])
    assert [(e.text, e.label_) for e in docs[0].ents] == [("Boston", "city"), ("Oslo", "city")]
    assert all(t.ent_iob_ in ("B", "O") for t in docs[0])
    assert len(caught) == 1 and "1 entities that select only blanks" in caught[0]


def test_tasks_left_out_stay_missing():
    """Issue 7: tasks=("cats",) drops the entities; an annotation of entities only goes."""
    text = "fly to oslo"
    tasks = [task(1, text, choices("flight"), label(text, 7, 11, "city"))]
    tasks.append(task(2, "lima", label("lima", 0, 4, "city")))
    with make_tempdir() as tmp:
        docs, _ = read(tmp, tasks, tasks=("cats",))
        assert [(d.text, d.cats) for d in docs] == [(text, {"flight": 1.0})]
        assert not has_ents(docs[0])
        docs, _ = read(tmp, tasks, tasks=("ents",))
    assert [d.text for d in docs] == [text, "lima"] and not any(has_cats(d) for d in docs)


def test_a_task_left_out_is_not_looked_for():
    """Image choices converted for entities: nothing to convert, whatever the data holds."""
    exported = [image_task(1, "https://example.com/1.jpg", image_choice("Cat"))]
    with make_tempdir() as tmp:
        with pytest.raises(ConversionError, match="no annotated documents"):
            read(tmp, exported, tasks=("ents",))
        with pytest.raises(ConversionError, match="task 1: data"):
            read(tmp, exported)
