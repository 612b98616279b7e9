"""Notes, MIDI files, notation and musical metrics. Imports no torch."""
