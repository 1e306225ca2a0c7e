"""Input that is not UTF-8: the error names the encoding it most likely is (encoding.py)."""

import pytest
from convert_files import run_cli
from spacy.util import make_tempdir

from spacy_mtl.convert import ConversionError, read_intents, read_jsonl
from spacy_mtl.convert.encoding import guess_encodings

# What each encoding is for, written in it (issue 22: a GBK file was told `iconv -f latin1`).
SAMPLES = [
    ("我要去长沙\tbook_flight", "gbk", "GB18030"),
    ("明天北京天气怎么样\tweather", "gb18030", "GB18030"),
    ("我要去長沙，明天的天氣怎麼樣\tweather", "big5", "BIG5"),
    ("明日の東京の天気を教えてください\tweather", "shift_jis", "SHIFT_JIS"),
    ("un café crème, s’il vous plaît – merci\tcoffee", "cp1252", "CP1252"),
    ("naïve façade, déjà vu\tfrench", "latin-1", "CP1252"),
]


@pytest.mark.parametrize("text,codec,name", SAMPLES)
def test_guess_encoding_of_a_line(text, codec, name):
    guesses = guess_encodings(text.encode(codec))
    assert guesses and guesses[0].name == name
    assert guesses[0].text == text


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe\xfd\xfc\x80\x81", b"ab\x81", b"x\x80\x81\x82\x83\x84y", bytes(range(128, 256))],
)
def test_no_guess_for_bytes_no_encoding_reads_well(raw):
    assert guess_encodings(raw) == []


@pytest.mark.parametrize("text,codec,name", SAMPLES)
def test_error_suggests_the_likely_encoding(text, codec, name):
    with make_tempdir() as tmp:
        path = tmp / "i.tsv"
        path.write_bytes("放歌\tmusic\n".encode("utf8") + text.encode(codec) + b"\n")
        with pytest.raises(ConversionError) as err:
            read_intents(path)
    message = str(err.value)
    assert message.startswith(f"{path}, line 2: not valid UTF-8"), message
    assert f"iconv -f {name} -t UTF-8" in message and "latin1" not in message, message
    # The line as it reads in that encoding, so the user can check the guess.
    assert text.split("\t")[0][:20] in message, message


def test_unknown_bytes_get_no_wrong_advice():
    with make_tempdir() as tmp:
        path = tmp / "a.jsonl"
        path.write_bytes(b'{"text": "\xff\xfe\xfd\xfc\x80\x81", "label": "x"}\n')
        with pytest.raises(ConversionError) as err:
            read_jsonl(path)
    message = str(err.value)
    assert "line 1: not valid UTF-8" in message and "iconv -f ENCODING -t UTF-8" in message
    assert "file -i" in message, message


def test_cli_gbk_file_names_gb18030_without_traceback():
    with make_tempdir() as tmp:
        path = tmp / "train.tsv"
        path.write_bytes("我要去长沙\tbook_flight\n".encode("gbk"))
        result = run_cli("convert", "intents", path, tmp / "o.spacy", "--lang", "zh")
        assert result.returncode == 1 and not (tmp / "o.spacy").exists()
    assert "iconv -f GB18030 -t UTF-8" in result.stderr and "Traceback" not in result.stderr


def test_a_surrogate_written_as_utf8_is_named_not_guessed():
    with make_tempdir() as tmp:
        path = tmp / "i.tsv"
        path.write_bytes(b"a\xed\xa0\x80b\tx\n")
        with pytest.raises(ConversionError) as err:
            read_intents(path)
    message = str(err.value)
    assert "line 1: not valid UTF-8 (byte 0xed at byte 2" in message, message
    assert "U+D800, half of a UTF-16 surrogate pair" in message and "iconv" not in message


def test_a_short_line_that_reads_well_twice_names_both():
    with make_tempdir() as tmp:
        path = tmp / "i.tsv"
        path.write_bytes("ééx\tfrench\n".encode("cp1252"))
        with pytest.raises(ConversionError) as err:
            read_intents(path)
    message = str(err.value)
    assert "GB18030: '殚x" in message and "CP1252: 'ééx" in message, message
    assert "iconv -f GB18030" in message and "iconv -f CP1252" in message
