"""Install a packaged pipeline into a fresh virtual environment and predict with it.

The check a user's machine would do: a new venv under a temporary folder gets
torch first (a pinned build: an unpinned torch can pull a multi-GB CUDA
build), then spacy-mtl and the pipeline wheel in one pip call, so that pip
resolves the wheel's own requirements (spacy-mtl among them) as it would for a
user. `pip check` must pass, and then `spacy.load(PACKAGE)` runs in that venv
from the temporary folder, so the installed spacy-mtl is imported rather than
the source tree. It prints the top intent and the entities of a few sentences.

The exit status is non-zero if any step fails: an install, a missing or
conflicting requirement, an import of spacy-mtl from outside the venv, a
pipeline without the mtl_textcat and mtl_ner components, or a document
without categories. With --output, the predictions are written as JSON.

Usage:
    python scripts/install_check.py \
        packages/en_mtl_demo-0.1.0/dist/en_mtl_demo-0.1.0-py3-none-any.whl \
        --package en_mtl_demo --spacy-mtl . --torch torch==2.13.0
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from wasabi import msg

from spacy_mtl.atomic import write_text_atomic

DEFAULT_TEXTS = [
    "book a flight from boston to denver next friday",
    "turn off the kitchen lights",
    "what is the weather in paris tomorrow",
]
# Files and folders a source checkout may hold that a build of the
# distribution never needs: copying them would be slow (.venv) or would
# carry stale build state into the build.
SKIP_IN_SOURCE = {".git", ".venv", "venv", "build", "dist", "__pycache__", ".pytest_cache"}
PIP_NOISE = "WARNING: Location"
# Runs inside the fresh venv: argv[1] is the package name, argv[2] a JSON list of texts.
PREDICT = r"""
import json, sys
import spacy, spacy_mtl
name, texts = sys.argv[1], json.loads(sys.argv[2])
nlp = spacy.load(name)
factories = [nlp.get_pipe_meta(pipe).factory for pipe in nlp.pipe_names]
docs = []
for doc in nlp.pipe(texts):
    top = max(doc.cats, key=doc.cats.get) if doc.cats else None
    docs.append({
        "text": doc.text,
        "top_label": top,
        "top_score": doc.cats[top] if top else None,
        "ents": [[ent.text, ent.label_] for ent in doc.ents],
    })
print(json.dumps({
    "spacy_mtl_file": spacy_mtl.__file__,
    "spacy_mtl_version": spacy_mtl.__version__,
    "spacy_version": spacy.__version__,
    "pipeline": nlp.pipe_names,
    "factories": factories,
    "docs": docs,
}))
"""


def main(argv: Optional[List[str]] = None) -> int:
    """Parse the arguments and run the check.

    argv (Optional[List[str]]): The arguments; None reads sys.argv.
    RETURNS (int): The exit status: 0 if the pipeline installed and predicted.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path, help="the pipeline's .whl file")
    parser.add_argument("--package", required=True, help="its package name, e.g. en_mtl_demo")
    parser.add_argument(
        "--spacy-mtl",
        default=".",
        help="what pip installs as spacy-mtl: a source folder (default: this one), a wheel "
        "or a requirement",
    )
    parser.add_argument(
        "--torch", default="torch==2.13.0", help="the torch requirement, installed first"
    )
    parser.add_argument("--text", action="append", help="a sentence to predict (repeatable)")
    parser.add_argument("--output", type=Path, help="JSON file for the predictions")
    parser.add_argument("--keep", action="store_true", help="keep the temporary venv")
    args = parser.parse_args(argv)
    if not args.wheel.is_file():
        msg.fail(f"No wheel at {args.wheel}. Run the `package` step first.", exits=1)
    texts = args.text or DEFAULT_TEXTS
    workdir = Path(tempfile.mkdtemp(prefix="spacy-mtl-install-check-"))
    try:
        result = run_check(
            workdir, args.wheel.resolve(), args.package, args.spacy_mtl, args.torch, texts
        )
    except CheckFailed as err:
        msg.fail("Install check failed", str(err))
        return 1
    finally:
        if args.keep:
            msg.info(f"Kept the virtual environment in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    for doc in result["docs"]:
        ents = ", ".join(f"{text!r} {label}" for text, label in doc["ents"]) or "none"
        msg.text(
            f"{doc['text']!r}: intent {doc['top_label']} ({doc['top_score']:.2f}); entities: {ents}"
        )
    if args.output is not None:
        write_json_atomic(args.output, result)
    msg.good(
        f"{args.package} installed into a fresh venv and predicted "
        f"(spacy {result['spacy_version']}, spacy-mtl {result['spacy_mtl_version']})"
    )
    return 0


class CheckFailed(RuntimeError):
    """A step of the check failed; the message says which and shows its output."""


def run_check(
    workdir: Path, wheel: Path, package: str, spacy_mtl: str, torch: str, texts: Sequence[str]
) -> Dict[str, Any]:
    """Create the venv in workdir, install everything, predict and validate the result.

    workdir (Path): An empty temporary folder.
    wheel (Path): The pipeline wheel.
    package (str): The pipeline's package name.
    spacy_mtl (str): A source folder, wheel or requirement for spacy-mtl.
    torch (str): The torch requirement.
    texts (Sequence[str]): The sentences to predict.
    RETURNS (Dict[str, Any]): What the venv reported: versions, pipeline, predictions.
    """
    venv = workdir / "venv"
    started = time.time()
    msg.info(f"Creating a virtual environment in {venv}")
    run([sys.executable, "-m", "venv", str(venv)], "create the venv", cwd=workdir)
    python = str(venv / ("Scripts" if os.name == "nt" else "bin") / "python")
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    msg.info(f"Installing {torch}")
    run(pip + [torch], f"install {torch}", cwd=workdir)
    source = prepare_spacy_mtl(spacy_mtl, workdir)
    msg.info(f"Installing spacy-mtl ({spacy_mtl}) and {wheel.name}")
    run(pip + [source, str(wheel)], "install spacy-mtl and the pipeline", cwd=workdir)
    run(
        [python, "-m", "pip", "check"],
        "pip check (missing or conflicting requirements)",
        cwd=workdir,
    )
    msg.info(f"Loading {package} in the venv ({time.time() - started:.0f}s so far)")
    out = run(
        [python, "-c", PREDICT, package, json.dumps(list(texts))],
        "spacy.load and predict",
        cwd=workdir,
    )
    try:
        result = json.loads(out.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise CheckFailed(f"The prediction printed no JSON:\n{out}") from None
    validate(result, venv)
    return result


def prepare_spacy_mtl(spacy_mtl: str, workdir: Path) -> str:
    """What to pass pip for spacy-mtl: a source folder's copy, a file's path or a requirement.

    A source folder is copied (without virtual environments, build output and
    caches) so that pip's build writes nothing into the checkout.

    spacy_mtl (str): A source folder, wheel or requirement.
    workdir (Path): The temporary folder to copy into.
    RETURNS (str): The pip argument.
    """
    path = Path(spacy_mtl)
    if path.is_file():
        # pip runs in the temporary folder: a relative path would not resolve there.
        return str(path.resolve())
    if not path.is_dir():
        return spacy_mtl
    if not any((path / name).exists() for name in ("setup.cfg", "setup.py", "pyproject.toml")):
        raise CheckFailed(
            f"{path.resolve()} is not a Python project (no setup.cfg, setup.py or pyproject.toml). "
            "Point --spacy-mtl (the project's `mtl_source` var) at the spacy-mtl repository."
        )
    target = workdir / "spacy-mtl-src"

    def ignore(folder: str, names: List[str]) -> List[str]:
        # Skip the top level's data and outputs too: only files and packages make the build.
        top = Path(folder).resolve() == path.resolve()
        return [
            name
            for name in names
            if name in SKIP_IN_SOURCE
            or name.endswith(".egg-info")
            or (
                top
                and (Path(folder) / name).is_dir()
                and not (Path(folder) / name / "__init__.py").exists()
            )
        ]

    shutil.copytree(path, target, ignore=ignore)
    return str(target)


def validate(result: Dict[str, Any], venv: Path) -> None:
    """Raise CheckFailed unless the venv's report shows a working installed pipeline.

    result (Dict[str, Any]): What PREDICT printed.
    venv (Path): The virtual environment it ran in.
    """
    problems = []
    if not Path(result["spacy_mtl_file"]).resolve().is_relative_to(venv.resolve()):
        problems.append(f"spacy_mtl was imported from {result['spacy_mtl_file']}, outside the venv")
    for factory in ("mtl_textcat", "mtl_ner"):
        if factory not in result["factories"]:
            problems.append(
                f"the pipeline has no {factory} component (factories: {result['factories']})"
            )
    for doc in result["docs"]:
        if doc["top_label"] is None:
            problems.append(f"no categories predicted for {doc['text']!r}")
    if problems:
        raise CheckFailed("; ".join(problems))


def run(command: List[str], what: str, *, cwd: Path) -> str:
    """Run a command isolated from this environment; raise CheckFailed if it fails.

    command (List[str]): The command.
    what (str): What it does, for the error message.
    cwd (Path): Where to run it: outside the repository, so the source tree is not importable.
    RETURNS (str): Its standard output.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
    }
    env["PYTHONNOUSERSITE"] = "1"
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        output = "\n".join(
            line for line in (proc.stdout + proc.stderr).splitlines() if PIP_NOISE not in line
        )
        raise CheckFailed(f"Could not {what} (exit status {proc.returncode}):\n{output[-4000:]}")
    return proc.stdout


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON atomically (spacy_mtl.atomic).

    With json rather than srsly, whose ujson rounds floats to 9 digits: the predicted scores
    reach the file whole, as the PREDICT script printed them.

    path (Path): The file to write.
    data (Any): JSON-serializable data.
    """
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
