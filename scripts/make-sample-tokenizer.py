#!/usr/bin/env python3
"""Trains data/sample-tokenizer.json: a small byte-level BPE tokenizer (GPT-2 style pre-tokenizer,
vocabulary of 2,048) on the project's own texts, so that --tokenizer, --synthetic and the
simulator's --tokenizer can be tried and tested without downloading a model's tokenizer.

It is not any real model's tokenizer; use your model's tokenizer.json for real runs.

    python3 -m venv /tmp/tok && /tmp/tok/bin/pip install tokenizers
    /tmp/tok/bin/python scripts/make-sample-tokenizer.py
"""
import pathlib

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

root = pathlib.Path(__file__).resolve().parent.parent
files = [str(root / "data" / "corpus.txt"), str(root / "data" / "conversations.json")]
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(
    vocab_size=2048,
    special_tokens=["<s>", "</s>", "<|im_start|>", "<|im_end|>"],
    initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    show_progress=False,
)
tok.train(files, trainer)
out = root / "data" / "sample-tokenizer.json"
tok.save(str(out))
print(f"{out}: vocabulary {tok.get_vocab_size()}")
