"""`sensoryt5 push`: the folder and repository checks, the calls made to HfApi (mocked at that boundary: the hub
is unreachable here) and the one-line failure when the hub cannot be reached."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from types import SimpleNamespace

import pytest
from huggingface_hub import RepoUrl

from sensoryt5.cli.push_cmd import IGNORED, push_model_folder
from sensoryt5.errors import SensoryT5Error


class FakeHfApi:
    """Records what push asks of the hub."""

    calls: list[tuple[str, tuple, dict]] = []

    def __init__(self, **kwargs):
        FakeHfApi.calls.append(("__init__", (), kwargs))

    def create_repo(self, repo_id, **kwargs):
        FakeHfApi.calls.append(("create_repo", (repo_id,), kwargs))
        return RepoUrl(f"https://huggingface.co/{repo_id if '/' in repo_id else 'me/' + repo_id}")

    def upload_folder(self, **kwargs):
        FakeHfApi.calls.append(("upload_folder", (), kwargs))


@pytest.fixture
def fake_hub(monkeypatch):
    FakeHfApi.calls = []
    monkeypatch.setattr("huggingface_hub.HfApi", FakeHfApi)
    return FakeHfApi.calls


@pytest.fixture
def folder(model_dir, tmp_path):
    copy = tmp_path / "isear-model"
    shutil.copytree(model_dir, copy)
    return copy


def test_push_creates_the_repo_and_uploads_the_folder(folder, fake_hub):
    url = push_model_folder(folder, "someone/sensoryt5-toy", private=True, token="hf_secret")
    assert url == "https://huggingface.co/someone/sensoryt5-toy"
    (init, _, init_kwargs), (create, create_args, create_kwargs), (upload, _, upload_kwargs) = fake_hub
    assert (init, create, upload) == ("__init__", "create_repo", "upload_folder")
    assert init_kwargs == {"token": "hf_secret"}
    assert create_args == ("someone/sensoryt5-toy",)
    assert create_kwargs == {"private": True, "exist_ok": True, "repo_type": "model"}
    assert upload_kwargs["folder_path"] == str(folder) and upload_kwargs["repo_id"] == "someone/sensoryt5-toy"
    assert upload_kwargs["repo_type"] == "model" and upload_kwargs["ignore_patterns"] == IGNORED
    assert {"checkpoints/**", "logs/**", "eval-*/**"} <= set(IGNORED)


def test_push_is_public_with_the_saved_token_by_default(folder, fake_hub):
    push_model_folder(folder, "sensoryt5-toy")
    assert fake_hub[0][2] == {"token": None} and fake_hub[1][2]["private"] is False


@pytest.mark.parametrize(("damage", "message"), [
    (lambda f: shutil.rmtree(f), "does not exist"),
    (lambda f: (f / "config.json").unlink(), "config.json is missing"),
    (lambda f: (f / "model.safetensors").unlink(), "no model weights"),
    (lambda f: (f / "README.md").unlink(), "has no model card (README.md); write it with"),
    (lambda f: (f / "README.md").write_text("---\n[unclosed\n---\nbody\n", encoding="utf-8"), "invalid metadata"),
])
def test_a_folder_that_is_not_a_complete_model_is_refused_before_any_upload(folder, fake_hub, damage, message):
    damage(folder)
    with pytest.raises(SensoryT5Error, match=re.escape(message)):
        push_model_folder(folder, "someone/sensoryt5-toy")
    assert fake_hub == []


def test_a_bad_repo_id_names_repo_id(folder, fake_hub):
    with pytest.raises(SensoryT5Error, match=r"REPO_ID 'some one/x y' is not a hub repository id"):
        push_model_folder(folder, "some one/x y")
    assert fake_hub == []


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _push_cli(*args: str, endpoint: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_HUB_OFFLINE": "0", "HF_HUB_ETAG_TIMEOUT": "2"}
    return subprocess.run([sys.executable, "-m", "sensoryt5", "push", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_unreachable_hub_is_one_line_and_exit_2(folder):
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    result = _push_cli(str(folder), "someone/sensoryt5-toy", "--token", "hf_not_a_real_token", endpoint=endpoint)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert f"cannot reach the Hugging Face Hub at {endpoint}" in lines[0]


def test_cli_folder_error_is_one_line_and_exit_2(folder):
    (folder / "README.md").unlink()
    result = _push_cli(str(folder), "someone/sensoryt5-toy", endpoint="http://127.0.0.1:9")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "has no model card (README.md)" in result.stderr


def test_a_refused_push_is_one_clear_error(folder, fake_hub, monkeypatch):
    from huggingface_hub.errors import HfHubHTTPError

    def refuse(self, repo_id, **kwargs):
        raise HfHubHTTPError("401 Client Error: Unauthorized for url\nInvalid credentials in Authorization header",
                             response=SimpleNamespace(headers={}, request=None))

    monkeypatch.setattr(FakeHfApi, "create_repo", refuse)
    with pytest.raises(SensoryT5Error, match=r"refused the push of someone/sensoryt5-toy: 401 Client Error: "
                                             r"Unauthorized for url Invalid credentials"):
        push_model_folder(folder, "someone/sensoryt5-toy", token="hf_wrong")
    assert [call[0] for call in fake_hub] == ["__init__"]  # nothing uploaded
