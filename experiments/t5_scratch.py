"""A T5 of t5-small (or tiny) shape with random weights and a SentencePiece vocabulary trained on one data set.

No pretrained T5 can be downloaded on the machines this project is developed on, so the T5 code path is exercised
end to end on a model trained from scratch (it scores low; the point is that the paper's path trains and that its
modes can be compared). The tokenizer sees only the training texts.

    python -m experiments.t5_scratch --dataset isear --output build/t5-small-scratch-isear
    python -m experiments.t5_scratch --dataset isear --output build/t5-tiny-scratch-isear --size tiny
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

SIZES = {
    "small": dict(d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_heads=8),  # t5-small's shape
    "tiny": dict(d_model=128, d_kv=32, d_ff=512, num_layers=2, num_heads=4),  # trains in minutes on a CPU
}


def build(dataset: str, output: Path, vocab_size: int = 4000, seed: int = 0, size: str = "small") -> Path:
    """Train the SentencePiece model on `dataset`'s train texts and save it with a random T5 into `output`."""
    import sentencepiece as spm
    import torch
    from transformers import T5Config, T5Model, T5Tokenizer

    from sensoryt5.data import load_dataset

    texts = list(load_dataset(dataset)["train"]["text"])
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "train.txt"
        corpus.write_text("\n".join(texts), encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_prefix=str(Path(tmp) / "spiece"), vocab_size=vocab_size, model_type="unigram",
            pad_id=0, eos_id=1, unk_id=2, bos_id=-1, character_coverage=1.0, minloglevel=2, hard_vocab_limit=False,
        )
        pieces = spm.SentencePieceProcessor(model_file=str(Path(tmp) / "spiece.model"))
        tokenizer = T5Tokenizer(vocab=[(pieces.id_to_piece(i), pieces.get_score(i))
                                       for i in range(pieces.get_piece_size())], extra_ids=0)
    torch.manual_seed(seed)
    config = T5Config(vocab_size=len(tokenizer), pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
                      **SIZES[size])
    T5Model(config).save_pretrained(output)
    tokenizer.save_pretrained(output)
    return output


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="isear")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--vocab-size", type=int, default=4000)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    args = parser.parse_args()
    print(build(args.dataset, args.output, args.vocab_size, size=args.size))


if __name__ == "__main__":
    main()
