"""Input that is not UTF-8: the error names the file, the line, the byte and how to re-save it."""

import pytest
from convert_files import run_cli
from spacy.util import make_tempdir

from spacy_mtl.convert import ConversionError, read_intents

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
def test_error_names_line_and_byte_and_how_to_resave(text, codec, name):
    with make_tempdir() as tmp:
        path = tmp / "i.tsv"
        path.write_bytes("放歌\tmusic\n".encode("utf8") + text.encode(codec) + b"\n")
        with pytest.raises(ConversionError) as err:
            read_intents(path)
    message = str(err.value)
    assert message.startswith(f"{path}, line 2: not valid UTF-8"), message
    bad = next(i for i, byte in enumerate(text.encode(codec)) if byte >= 0x80)
    assert f"at byte {bad + 1} of the line" in message, message
    assert f"iconv -f GB18030 -t UTF-8 {path} > {path}.utf8" in message, message


def test_cli_gbk_file_is_named_without_traceback():
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
