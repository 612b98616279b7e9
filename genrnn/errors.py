"""The one exception family of genrnn.

Library code raises these; only ``cli.py`` and ``tui/`` turn them into a message and an exit
code. Every message names the file or field at fault and what was expected.
"""

from __future__ import annotations


class GenrnnError(Exception):
    """Base class: an error the user can act on (bad input, missing file, ...)."""


class ConfigError(GenrnnError):
    """A configuration value is out of range or of the wrong type."""


class CorpusError(GenrnnError):
    """A corpus (text, MIDI folder, recipe) cannot be read or is unusable."""


class TokenizerError(GenrnnError):
    """Input cannot be encoded or decoded by a tokenizer."""


class MidiConversionError(GenrnnError):
    """A MIDI file or note sequence cannot be read, written or converted."""


class CheckpointError(GenrnnError):
    """A checkpoint file is missing, damaged, foreign or incompatible."""


class PlaybackError(GenrnnError):
    """A MIDI port, audio device or synth cannot be opened or fails while playing."""
