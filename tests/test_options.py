"""Options are declared once: every TrainingConfig field with a flag is exactly one command-line option."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

import pytest
import typer
import typer.testing

from sensoryt5.cli.options import config_command
from sensoryt5.errors import OptionError
from sensoryt5.training import TrainingConfig

NOT_ON_COMMAND_LINE = {"trainer_args", "progress"}  # TrainingConfig fields filled by code, not typed
TRAIN_ONLY = {"deepspeed", "fsdp"}  # `train` options that are not TrainingConfig fields


def _app() -> typer.Typer:
    from sensoryt5.cli import _register, app

    if not app.registered_commands:
        _register()
    return app


def _command(name: str):
    return typer.main.get_command(_app()).commands[name]


def _options(command) -> dict:
    """The command's options by parameter name (typer ships its own click, so no isinstance check)."""
    return {p.name: p for p in command.params if p.opts[0].startswith("--")}


def test_every_training_field_is_exactly_one_train_option_and_back():
    options = _options(_command("train"))
    fields = {f.name: f for f in dataclasses.fields(TrainingConfig)}
    for name, f in fields.items():
        if name in NOT_ON_COMMAND_LINE:
            assert "flag" not in f.metadata
            continue
        assert "flag" in f.metadata and f.metadata.get("help"), f"{name} lacks flag/help metadata"
        flag = f.metadata["flag"]
        owners = [o for o in options.values() if flag in o.opts]
        assert [o.name for o in owners] == [name], f"{flag} must be one option, for {name}"
        assert owners[0].help == f.metadata["help"]
    assert set(options) - set(fields) == TRAIN_ONLY


def test_reproduce_offers_every_training_option_the_grid_does_not_set():
    from sensoryt5.cli.train_cmd import REPRODUCE_GRID_OPTIONS
    from sensoryt5.reproduce import GRID_FIELDS

    options = _options(_command("reproduce"))
    grid = {p.name for p in REPRODUCE_GRID_OPTIONS}
    assert grid == {"datasets", "sensory", "fusion", "dims", "ablate", "lexicon", "seeds", "output", "name",
                    "keep_models", "quick", "report_only", "workers"}
    for f in dataclasses.fields(TrainingConfig):
        if f.name in NOT_ON_COMMAND_LINE or f.name in GRID_FIELDS:
            continue
        owners = [o for o in options.values() if f.metadata["flag"] in o.opts]
        assert [o.name for o in owners] == [f.name], f"reproduce lacks {f.metadata['flag']}"
        assert owners[0].help == f.metadata["help"]
    template = {f.name for f in dataclasses.fields(TrainingConfig)} - NOT_ON_COMMAND_LINE - set(GRID_FIELDS)
    assert set(options) == template | grid


def test_reproduce_passes_training_options_to_every_run(monkeypatch, tmp_path):
    import sensoryt5.reproduce as reproduce

    seen = []
    monkeypatch.setattr(reproduce, "run_grid", lambda config, **kwargs: seen.append(config))
    monkeypatch.setattr(reproduce, "write_report", lambda *args, **kwargs: None)
    (tmp_path / "quick").mkdir()
    (tmp_path / "quick" / "RESULTS.md").write_text("report")
    result = typer.testing.CliRunner().invoke(
        _app(), ["reproduce", "--quick", "--output", str(tmp_path), "--oov", "none",
                                         "--warmup-ratio", "0.1", "--weight-decay", "0.01", "--class-weights",
                                         "--patience", "0"])
    assert result.exit_code == 0, result.output
    training = seen[0].training
    assert (training.oov_embedder, training.warmup_ratio, training.weight_decay) == (None, 0.1, 0.01)
    assert training.class_weights and training.early_stopping_patience is None
    assert (training.epochs, training.max_length, seen[0].datasets) == (1.0, 64, ["isear"])  # --quick


def test_train_keeps_its_flag_names_and_defaults():
    options = _options(_command("train"))
    assert options["learning_rate"].opts == ["--lr"]
    assert options["gradient_accumulation_steps"].opts == ["--grad-accum"]
    assert options["early_stopping_patience"].opts == ["--patience"]
    assert options["class_weights"].secondary_opts == ["--no-class-weights"]
    assert options["dataset"].required and options["output"].required
    assert options["epochs"].default == 3.0 and options["oov_embedder"].default == "minilm"


def test_a_new_field_with_metadata_becomes_an_option():
    @dataclass
    class Config:
        size: int = field(default=3, metadata={"flag": "--size", "help": "How many."})
        names: tuple[str, ...] = field(default=(), metadata={"flag": "--names", "help": "Comma list."})
        hidden: bool = False

    seen = {}
    app = typer.Typer()
    app.command()(config_command("go", Config, lambda values: seen.update(values)))
    app.command()(lambda: None)  # a second command keeps `go` a named sub-command
    result = typer.testing.CliRunner().invoke(app, ["go", "--size", "5", "--names", "a,b"])
    assert result.exit_code == 0, result.output
    assert seen == {"size": 5, "names": "a,b"}
    assert typer.testing.CliRunner().invoke(app, ["go", "--hidden"]).exit_code == 2


def test_config_normalises_command_line_spellings():
    config = TrainingConfig(dataset="isear", output="out", ablate="visual, haptic", oov_embedder="None",
                            early_stopping_patience=0)
    assert config.ablate == ("visual", "haptic")
    assert config.oov_embedder is None and config.early_stopping_patience is None


@pytest.mark.parametrize(("values", "message"), [
    ({"epochs": 0}, "--epochs (epochs) must be positive"),
    ({"batch_size": -1}, "--batch-size (batch_size) must be positive"),
    ({"learning_rate": -1e-4}, "--lr (learning_rate) must not be negative"),
    ({"warmup_ratio": 1.5}, "--warmup-ratio (warmup_ratio) must be in [0, 1)"),
    ({"early_stopping_patience": -2}, "--patience (early_stopping_patience) must be positive"),
    ({"text_column": ""}, "--text-column (text_column) must not be empty"),
    ({"report_to": "comet"}, "--report-to (report_to) must be one of none, tensorboard, mlflow, wandb"),
])
def test_config_rejects_out_of_range_values_naming_flag_and_field(values, message):
    with pytest.raises(OptionError) as error:
        TrainingConfig(dataset="isear", output="out", **values)
    assert message in str(error.value)
    assert isinstance(error.value, ValueError)


def test_saved_configs_with_the_old_names_still_load():
    old = {"dataset": "isear", "output": "out", "sensory": "random", "dims": "action", "oov": None,
           "ablate": ["visual"], "epochs": 2.0, "retired_option": 1}
    config = TrainingConfig.from_dict(old)
    assert (config.sensory_mode, config.sensory_dims, config.oov_embedder) == ("random", "action", None)
    assert config.ablate == ("visual",) and config.epochs == 2.0
    current = dataclasses.asdict(TrainingConfig(dataset="isear", output="out", sensory_mode="none"))
    assert TrainingConfig.from_dict(current) == TrainingConfig(dataset="isear", output="out", sensory_mode="none")


def test_saved_processor_settings_and_results_with_the_old_names_still_load(tmp_path, minilm_tokenizer, lexicon):
    from sensoryt5.alignment import PROCESSOR_FILE, SensoryProcessor
    from sensoryt5.reproduce import Variant, variant_of

    SensoryProcessor(minilm_tokenizer, lexicon).save_pretrained(tmp_path)
    settings = json.loads((tmp_path / PROCESSOR_FILE).read_text())
    assert {"sensory_mode", "sensory_dims"} <= settings.keys() and not {"mode", "dims"} & settings.keys()
    old = {**{k: v for k, v in settings.items() if k not in ("sensory_mode", "sensory_dims")}, "mode": "shuffled",
           "dims": ["visual", "haptic"]}
    (tmp_path / PROCESSOR_FILE).write_text(json.dumps(old))
    reloaded = SensoryProcessor.from_pretrained(tmp_path, oov_embedder=None)
    assert reloaded.sensory_mode == "shuffled" and list(reloaded.lexicon.dims) == ["visual", "haptic"]
    written_before = {"variant": {"mode": "norms", "fusion": "input", "dims": "action", "ablate": ""}}
    assert variant_of(written_before) == Variant("norms", "input", "action")
    assert variant_of({"variant": {"sensory_mode": "none", "fusion": "paper", "sensory_dims": "perceptual",
                                   "ablate": ""}}).key == "none"
