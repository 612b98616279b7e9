"""Using the trained many-to-one classifier and many-to-many harmonizer: their files and what
they answer (their training is in genrnn.training, their models in genrnn.models)."""
