"""The ideas behind RNNs, as measurements: cells side by side, gradients over time, long-range
memory, what single units track.

A layer above ``session``: it trains and loads models through the facade (and the model layers
where it needs the cells themselves), returns plain dataclasses and writes PNG/HTML files. It
never prints; ``cli/features.py`` turns its results into tables.
"""
