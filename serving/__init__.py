"""The model server: base model + the registry's current LoRA adapter, hot-swapped, A/B split by user."""
