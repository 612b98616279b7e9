"""Generation: the stream (stream.py) and its two step back-ends (light.py in NumPy,
models/step.py in PyTorch), the draw (sampler.py), the event grammar (grammar.py), labels
(conditions.py), and music and tunes from the stream (music.py, pieces.py). Nothing here
imports PyTorch; the PyTorch back-end is built by ``session.Model.backend``."""
