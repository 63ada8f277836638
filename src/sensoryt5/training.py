"""Fine-tune SensoryT5 with the Hugging Face `Trainer`: one dataclass of settings, one `train` function.

Runs unchanged under `torchrun --nproc_per_node N` / `accelerate launch` (DDP through the Trainer), with only the
main process writing the output folder. The output folder is a self-contained saved model (weights, config,
tokenizer, `sensory_processor.json`) plus `train_metrics.json`; its files are renamed into place with `config.json`
last, so a killed run never leaves a folder that loads as a model. Checkpoints (for `resume`) live in
`OUTPUT/checkpoints` and are removed after a successful run unless `keep_checkpoints` is set.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sensoryt5.errors import SensoryT5Error, check_choice, one_line
from sensoryt5.model_folder import write_model_folder

CHECKPOINTS = "checkpoints"
PAPER_LEARNING_RATE = 1e-4  # the paper's Adam learning rate (single-label tasks)
MULTI_LABEL_LEARNING_RATE = 3e-4  # best on dev of 1e-4/3e-4/5e-4 with pos_weight, 1,000 GoEmotions rows, MiniLM


@dataclass
class TrainingConfig:
    """Everything `sensoryt5 train` accepts (defaults follow the paper where it says something)."""

    dataset: str
    output: str
    backbone: str = "minilm"
    sensory: str = "norms"
    fusion: str = "paper"
    dims: str = "perceptual"
    ablate: tuple[str, ...] = ()  # dimensions zeroed for every word (leave-one-sense-out, same model shape)
    oov: str | None = "minilm"
    epochs: float = 3.0
    learning_rate: float | None = None  # None: the paper's 1e-4, or 3e-4 for multi-label data (`learning_rate`)
    batch_size: int = 32
    eval_batch_size: int = 64
    max_length: int = 128
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    gradient_accumulation_steps: int = 1
    seed: int = 42
    max_train_samples: int | None = None
    early_stopping_patience: int | None = 2
    class_weights: bool | None = None  # None: on for multi-label data (BCE pos_weight), off for single-label
    save_steps: int | None = None  # checkpoint (and evaluate) every N steps instead of every epoch
    keep_checkpoints: bool = False
    resume: bool = False
    overwrite: bool = False
    text_column: str = "text"
    label_column: str = "label"
    label_separator: str | None = None
    label_case: str = field(default="keep", metadata={
        "help": "keep: labels differing only in case (Anger, anger) stop the load; lower: fold them to lower case.",
        "flag": "--label-case"})
    label_map: str | None = field(default=None, metadata={
        "help": "JSON object or two-column CSV file renaming raw labels after case folding (e.g. GoEmotions to "
                "Ekman's six); a label it lacks is an error.", "flag": "--label-map"})
    mask_label_hashtags: bool = False
    skip_invalid: bool = field(default=False, metadata={
        "help": "Skip invalid rows of a user file (counted per reason when loading) instead of stopping at the "
                "first.", "flag": "--skip-invalid"})
    trainer_args: dict[str, Any] = field(default_factory=dict)  # extra TrainingArguments (deepspeed, fsdp, ...)
    progress: bool = True  # the Trainer's progress bars (off for runs in parallel worker processes)


def option_help(name: str) -> str:
    """The help text of TrainingConfig field `name` (shared by every command that takes the option)."""
    return TrainingConfig.__dataclass_fields__[name].metadata["help"]


class SensoryCollator:
    """Batches raw examples: tokenise, align the sensory tensor, stack labels (runs in the data loader)."""

    def __init__(self, processor: Any, multi_label: bool) -> None:
        self.processor, self.multi_label = processor, multi_label

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        batch = self.processor([e["text"] for e in examples])  # input_ids, attention_mask [B, L]; sensory [B, L, D]
        if self.multi_label:
            batch["labels"] = torch.tensor([e["labels"] for e in examples], dtype=torch.float32)  # [B, C]
        else:
            batch["labels"] = torch.tensor([e["label"] for e in examples], dtype=torch.long)  # [B]
        return batch


class GracefulInterrupt:
    """First Ctrl-C/SIGTERM: finish the step, save a checkpoint, stop. A second one stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> GracefulInterrupt:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        signal.signal(signum, self._previous[signum])
        print("\nInterrupted: saving a checkpoint after this step (interrupt again to stop at once).", flush=True)

    def callback(self) -> Any:
        """A TrainerCallback that saves and stops at the next step end once an interrupt was requested."""
        from transformers import TrainerCallback

        owner = self

        class _StopAndSave(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if owner.requested:
                    control.should_save = True
                    control.should_training_stop = True
                return control

        return _StopAndSave()


def _balanced_weights(dataset: Any, n_labels: int, multi_label: bool) -> list[float]:
    """Inverse-frequency class weights n / (C * count) (single-label) or negatives/positives per label."""
    from sensoryt5.data import label_array

    labels = label_array(dataset)  # [N] ids or [N, C] multi-hot
    if multi_label:
        positives = labels.sum(axis=0).clip(min=1)
        return ((len(labels) - positives) / positives).tolist()
    counts = np.bincount(labels, minlength=n_labels).clip(min=1)
    return (counts.sum() / (n_labels * counts)).tolist()


def uses_class_weights(config: TrainingConfig, multi_label: bool) -> bool:
    """`class_weights` when set; left unset (None), on for multi-label data: without pos_weight the binary losses
    of rare labels settle on "never" and the model learns only the label priors."""
    return multi_label if config.class_weights is None else config.class_weights


def learning_rate(config: TrainingConfig, multi_label: bool) -> float:
    """`learning_rate` when set; left unset (None), the paper's for single-label data and a higher one for
    multi-label data, whose per-label binary losses learn more slowly."""
    if config.learning_rate is not None:
        return config.learning_rate
    return MULTI_LABEL_LEARNING_RATE if multi_label else PAPER_LEARNING_RATE


def _loss_weights(config: TrainingConfig, dataset: Any, n_labels: int, multi_label: bool) -> list[float] | None:
    """The loss's class weights (see `uses_class_weights` and `_balanced_weights`), or None."""
    return _balanced_weights(dataset, n_labels, multi_label) if uses_class_weights(config, multi_label) else None


def _compute_metrics(multi_label: bool):
    """The Trainer's metric function: accuracy, macro-F1, weighted-F1 (and micro-F1 at 0.5 for multi-label)."""
    from sensoryt5.metrics import multi_label_metrics, single_label_metrics

    def compute(prediction: Any) -> dict[str, float]:
        logits, gold = prediction.predictions, prediction.label_ids
        if isinstance(logits, tuple):
            logits = logits[0]
        if multi_label:
            return multi_label_metrics(gold, logits > 0)
        return single_label_metrics(gold, logits.argmax(-1))

    return compute


def _bf16_available() -> bool:
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def _last_complete_checkpoint(folder: Path) -> str | None:
    """The newest checkpoint whose trainer state was written in full.

    The Trainer writes `trainer_state.json` after the weights, optimizer and RNG states, and not atomically: a kill
    mid-save leaves it missing or cut short, so a checkpoint counts only when that file parses.
    """
    candidates = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]), reverse=True)
    for candidate in candidates:
        if not (candidate / "model.safetensors").is_file():
            continue
        try:
            json.loads((candidate / "trainer_state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        return str(candidate)
    return None


def check_sensory_options(sensory: str, fusion: str, dims: str, ablate: Sequence[str] = ()) -> None:
    """OptionError (a ValueError) for an unknown sensory mode, fusion or dimension, or a bad set of ablated ones."""
    from sensoryt5.alignment import MODES, check_ablate
    from sensoryt5.fusion import FUSIONS
    from sensoryt5.norms import parse_dims

    check_choice("sensory mode", sensory, MODES)
    check_choice("fusion", fusion, FUSIONS)
    check_ablate(ablate, parse_dims(dims))


def _check_options(config: TrainingConfig) -> str:
    """Check the sensory mode, fusion, dimensions, OOV embedder and backbone before any work (OptionError, a
    ValueError, for a bad one); the backbone's loadable path (see `resolve_backbone`)."""
    from sensoryt5.backbones import resolve_backbone
    from sensoryt5.oov import EMBEDDERS

    check_sensory_options(config.sensory, config.fusion, config.dims, config.ablate)
    if config.oov is not None:
        check_choice("OOV embedder", config.oov.strip().lower(), sorted(EMBEDDERS))
    return resolve_backbone(config.backbone)


def _load_tokenizer(backbone: str) -> Any:
    """The backbone's tokenizer; SensoryT5Error when it cannot be found (a folder without one, a hub name that is
    neither cached nor reachable)."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(backbone)
    except OSError as error:
        raise SensoryT5Error(f"cannot load the tokenizer of backbone {backbone}: {one_line(error)}") from error


def _prepare_output(config: TrainingConfig, is_main: bool) -> Path:
    """Check the output folder: refuse to overwrite a finished model unless asked; unpublish it first."""
    output = Path(config.output)
    finished = (output / "config.json").is_file()
    if finished and not (config.overwrite or config.resume):
        raise SensoryT5Error(f"{output} already holds a trained model; pass --overwrite to replace it, "
                             "or choose another --output")
    if is_main:
        output.mkdir(parents=True, exist_ok=True)
        if finished:
            (output / "config.json").unlink()
    return output


def _announce(config: TrainingConfig, rank: int, backbone: str, dataset: Any, train_examples: int) -> None:
    """Print the start banner (see `train_report.start_banner`) on the main process of a run that shows progress."""
    from sensoryt5.train_report import start_banner

    if rank == 0 and config.progress:
        print(start_banner(config, backbone, dataset, train_examples), flush=True)


def train(config: TrainingConfig) -> dict[str, Any]:
    """Fine-tune, select the best epoch on dev macro-F1, save the model folder; returns the metrics written."""
    import torch
    from transformers import EarlyStoppingCallback, Trainer, TrainingArguments, set_seed
    from transformers import logging as hf_logging

    from sensoryt5.alignment import SensoryProcessor
    from sensoryt5.backbones import quiet_weight_loading
    from sensoryt5.data import is_multi_label, label_names, load_dataset
    from sensoryt5.lexicon import SensoryLexicon
    from sensoryt5.metrics import multi_label_metrics, tune_thresholds
    from sensoryt5.model_card import write_model_card
    from sensoryt5.modeling import SensoryT5ForSequenceClassification
    from sensoryt5.train_report import dev_diagnostics

    backbone = _check_options(config)
    hf_logging.set_verbosity_error()
    started = time.time()
    rank = int(os.environ.get("RANK", "0"))
    output = _prepare_output(config, rank == 0)
    dataset = load_dataset(config.dataset, text_column=config.text_column, label_column=config.label_column,
                           label_separator=config.label_separator, mask_label_hashtags=config.mask_label_hashtags,
                           label_case=config.label_case, label_map=config.label_map,
                           skip_invalid=config.skip_invalid)
    labels, multi_label = label_names(dataset), is_multi_label(dataset)
    train_split = dataset["train"]
    if config.max_train_samples is not None and config.max_train_samples < len(train_split):
        train_split = train_split.shuffle(seed=config.seed).select(range(config.max_train_samples))
    _announce(config, rank, backbone, dataset, len(train_split))

    tokenizer = _load_tokenizer(backbone)
    lexicon = SensoryLexicon(dims=config.dims, oov_embedder=config.oov)
    processor = SensoryProcessor(tokenizer, lexicon, mode=config.sensory, max_length=config.max_length,
                                 seed=config.seed, ablate=config.ablate)
    coverage = processor.coverage(train_split["text"]) if config.sensory != "none" else None

    set_seed(config.seed)
    with quiet_weight_loading():
        model = SensoryT5ForSequenceClassification.from_backbone(
            backbone,
            id2label=dict(enumerate(labels)),
            sensory_mode=config.sensory,
            sensory_dims=list(lexicon.dims),
            fusion=config.fusion,
            problem_type="multi_label_classification" if multi_label else "single_label_classification",
            class_weights=_loss_weights(config, train_split, len(labels), multi_label),
            max_length=config.max_length,
            lexicon_config=processor.settings(),
        )
    strategy = "steps" if config.save_steps else "epoch"
    report_to = ["tensorboard"] if importlib.util.find_spec("tensorboard") else "none"
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(output / "logs")  # read by the Trainer's TensorBoard callback
    args = TrainingArguments(
        output_dir=str(output / CHECKPOINTS),
        num_train_epochs=config.epochs,
        learning_rate=learning_rate(config, multi_label),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a share of the steps
        weight_decay=config.weight_decay,
        optim="adamw_torch_fused" if torch.cuda.is_available() else "adamw_torch",
        seed=config.seed,
        eval_strategy=strategy,
        save_strategy=strategy,
        eval_steps=config.save_steps,
        save_steps=config.save_steps,
        load_best_model_at_end=True,
        metric_for_best_model="macro_f1",
        greater_is_better=True,
        save_total_limit=2,
        bf16=_bf16_available(),
        use_cpu=not (torch.cuda.is_available() or torch.backends.mps.is_available()),  # also turns on CPU DDP
        ddp_find_unused_parameters=model.is_encoder_decoder and model.config.t5_states == "encoder",
        logging_strategy="steps",
        logging_steps=50,
        report_to=report_to,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        disable_tqdm=not config.progress,
        **config.trainer_args,
    )
    callbacks = [EarlyStoppingCallback(config.early_stopping_patience)] if config.early_stopping_patience else []
    with GracefulInterrupt() as interrupt:
        trainer = Trainer(
            model=model, args=args, train_dataset=train_split, eval_dataset=dataset["validation"],
            data_collator=SensoryCollator(processor, multi_label), compute_metrics=_compute_metrics(multi_label),
            callbacks=[*callbacks, interrupt.callback()],
        )
        resume_from = _last_complete_checkpoint(output / CHECKPOINTS) if config.resume else None
        if config.resume and resume_from is None and any((output / CHECKPOINTS).glob("checkpoint-*")) and rank == 0:
            print(f"No complete checkpoint in {output / CHECKPOINTS}; starting from scratch.")
        train_result = trainer.train(resume_from_checkpoint=resume_from)
    if interrupt.requested:
        raise SensoryT5Error(f"training interrupted; checkpoint saved in {output / CHECKPOINTS}. "
                             "Run the same command with --resume to continue.")

    dev = trainer.predict(dataset["validation"])
    dev_logits = dev.predictions[0] if isinstance(dev.predictions, tuple) else dev.predictions
    if multi_label:
        probabilities = torch.sigmoid(torch.from_numpy(dev_logits)).numpy()
        model.config.label_thresholds = tune_thresholds(dev.label_ids, probabilities)
        dev_metrics = multi_label_metrics(dev.label_ids, probabilities >= np.array(model.config.label_thresholds))
    else:
        dev_metrics = {k.removeprefix("test_"): v for k, v in dev.metrics.items()
                       if k.removeprefix("test_") in ("accuracy", "macro_f1", "weighted_f1")}
    metrics = {
        "config": asdict(config),
        "labels": labels,
        "multi_label": multi_label,
        "train_examples": len(train_split),
        "dev_examples": len(dataset["validation"]),
        "learning_rate": trainer.args.learning_rate,
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "best_dev_macro_f1": trainer.state.best_metric,
        "dev": dev_metrics,
        "epochs_run": trainer.state.epoch,
        "history": [h for h in trainer.state.log_history if "eval_macro_f1" in h],
        "train_runtime_s": train_result.metrics.get("train_runtime"),
        "train_examples_per_s": train_result.metrics.get("train_samples_per_second"),
        "wall_time_s": time.time() - started,
        "coverage": coverage,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "world_size": trainer.args.world_size,
        "torch": torch.__version__,
        **dev_diagnostics(dev.label_ids, dev_logits, labels, multi_label, model.config.label_thresholds),
    }
    if trainer.is_world_process_zero():
        write_model_folder(output, trainer.model, processor, metrics)
        write_model_card(output)
        if not config.keep_checkpoints:
            shutil.rmtree(output / CHECKPOINTS, ignore_errors=True)
    return {**metrics, "written_by_this_process": trainer.is_world_process_zero()}
