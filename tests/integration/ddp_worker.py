"""Run under torchrun by test_distributed.py: train a few steps, save this rank's weights."""

import os
import sys

from safetensors.torch import save_file

from genrnn import session
from genrnn.training import distributed


def main() -> None:
    text, out = sys.argv[1], sys.argv[2]
    corpus = session.prepare_corpus(text=text)
    trainer = session.make_trainer(corpus, "tiny", {"dropout": 0.2}, {"max_steps": 12, "seed": 4, "dtype": "fp32"}, out)
    trainer.fit()
    rank = int(os.environ["RANK"])
    save_file({k: v.contiguous() for k, v in trainer.model.state_dict().items()}, f"{out}/rank{rank}.safetensors")
    distributed.shutdown()


if __name__ == "__main__":
    main()
