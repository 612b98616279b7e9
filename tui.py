"""`python tui.py`: the genrnn terminal app (a shim; see genrnn/tui/)."""

from genrnn.tui.app import GenrnnApp

if __name__ == "__main__":
    GenrnnApp().run()
