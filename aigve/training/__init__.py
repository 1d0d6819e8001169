"""LoRA fine-tuning of the judge on AIGVE-Bench-style data with a token-wise weighted loss.

Modules: ``recipe`` (validated config, YAML, CLI overrides; light), ``data`` (examples, prompt-hash
splits, dataset), ``roles`` (token roles from offsets), ``loss`` (weighted CE), ``collate`` (batches),
``trainer`` (LoRA setup, Trainer subclass, validation readout), ``run`` (one run end to end).
Import the submodules directly; this package imports nothing heavy.
"""
