"""`sensoryt5 push`: upload a trained model folder (weights, config, tokenizer, processor, card) to the Hugging Face
Hub with `HfApi.create_repo` and `HfApi.upload_folder`."""

from __future__ import annotations

import importlib
from pathlib import Path

import typer
from rich.console import Console

from sensoryt5.errors import ModelLoadError, OptionError, SensoryT5Error, one_line

console = Console()

# What stays local: training checkpoints and logs, evaluation outputs (their predictions hold the data set's texts,
# which the data licences may not let anyone redistribute), half-written files.
IGNORED = ["checkpoints/**", "logs/**", "eval-*/**", ".staging/**", ".*.tmp"]


def check_push_folder(folder: Path) -> Path:
    """A model folder with config, safetensors weights, processor and a model card whose metadata parses;
    ModelLoadError (one line) naming what is missing."""
    import yaml
    from huggingface_hub import ModelCard

    from sensoryt5.model_card import CARD_FILE
    from sensoryt5.model_folder import check_model_folder

    path = check_model_folder(folder)
    card = path / CARD_FILE
    if not card.is_file():
        raise ModelLoadError(f"{path} has no model card ({CARD_FILE}); write it with `python -c \"from "
                             f"sensoryt5.model_card import write_model_card; write_model_card({str(path)!r})\"`")
    try:
        ModelCard.load(card)
    except (ValueError, yaml.YAMLError) as error:
        raise ModelLoadError(f"{card} has invalid metadata: {one_line(error)}") from error
    return path


def _check_repo_id(repo_id: str) -> None:
    """OptionError naming REPO_ID unless it is a valid hub repository id (NAME or NAMESPACE/NAME)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise OptionError(f"REPO_ID {repo_id!r} is not a hub repository id such as you/sensoryt5-isear: "
                          f"{one_line(error)}") from error


def _unreachable_errors() -> tuple[type[BaseException], ...]:
    """What the hub client raises when it cannot get an answer: OSError (offline mode, no saved token, a refused
    connection) and the transport errors of whichever HTTP library this huggingface_hub version uses."""
    errors: list[type[BaseException]] = [OSError]
    for library in ("httpx2", "httpx"):
        try:
            errors.append(importlib.import_module(library).HTTPError)
        except ImportError:
            continue
    return tuple(errors)


def push_model_folder(folder: Path, repo_id: str, *, private: bool = False, token: str | None = None) -> str:
    """Check `folder` and `repo_id`, create the repository (kept if it exists) and upload the folder; returns the
    repository's URL. SensoryT5Error (one line) for a bad folder or id, a refused request or an unreachable hub."""
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import HfHubHTTPError

    path = check_push_folder(folder)
    _check_repo_id(repo_id)
    api = HfApi(token=token)
    try:
        repo = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        api.upload_folder(folder_path=str(path), repo_id=repo.repo_id, repo_type="model",
                          commit_message=f"Upload {path.name} with sensoryt5 push", ignore_patterns=IGNORED)
    except HfHubHTTPError as error:  # an answer: bad token, no write access, ...
        raise SensoryT5Error(f"the Hugging Face Hub at {constants.ENDPOINT} refused the push of {repo_id}: "
                             f"{one_line(error)}") from error
    except _unreachable_errors() as error:
        raise SensoryT5Error(f"cannot reach the Hugging Face Hub at {constants.ENDPOINT}: "
                             f"{one_line(error) or type(error).__name__}") from error
    return str(repo)


def push(
    model_dir: Path = typer.Argument(..., help="A model folder written by `sensoryt5 train` (with its README.md "
                                               "model card)."),
    repo_id: str = typer.Argument(..., help="Hub repository to upload to, e.g. you/sensoryt5-isear (created if "
                                            "missing)."),
    private: bool = typer.Option(False, "--private", help="Create the repository as private."),
    token: str | None = typer.Option(None, "--token", help="Hub token with write access (default: HF_TOKEN or "
                                                            "the token saved by `hf auth login`)."),
) -> None:
    """Upload a trained model folder to the Hugging Face Hub (checkpoints, logs and eval-* outputs stay local)."""
    url = push_model_folder(model_dir, repo_id, private=private, token=token)
    console.print(f"[green]Pushed[/] {model_dir} to {url}", highlight=False, soft_wrap=True)
