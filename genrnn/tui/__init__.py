"""The Textual terminal app (python tui.py)."""
