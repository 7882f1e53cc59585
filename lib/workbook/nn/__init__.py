"""PyTorch reference implementations (attention, transformer, GPT, ...)."""
