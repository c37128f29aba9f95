"""Reference model trainers (installed as ``modelcentrality.reference_models``; needs torch).

- :mod:`.presets`: settings of each trainer, the ``paper``, ``cpu`` and ``gpu`` presets
  (no torch).
- :mod:`.networks`: InfoGAN-CR and VAE networks for 64x64 images.
- :mod:`.infogan_cr`, :mod:`.vae`: InfoGAN-CR, FactorVAE and beta-VAE trainers.
- :mod:`.training`: the loop with atomic checkpoints and exact resume.
- :mod:`.train`: :func:`~.train.train_model`, one model into a zoo model folder.
- :mod:`.grouped`: K models of one trainer trained at once as one grouped network
  (stacked weights under vmap), e.g. a whole zoo on one GPU.
- :mod:`.zoo_job`: :func:`~.zoo_job.train_zoo`, a resumable zoo with ground-truth scores.
"""
