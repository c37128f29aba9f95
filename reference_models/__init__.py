"""Reference model trainers (installed as ``modelcentrality.reference_models``; needs torch).

- :mod:`.presets`: settings of each trainer, the ``paper``, ``cpu`` and ``gpu`` presets
  (no torch).
- :mod:`.networks`: InfoGAN-CR and VAE networks for 64x64 images.
- :mod:`.infogan_cr`, :mod:`.vae`: the InfoGAN-CR, FactorVAE and beta-VAE trainers, each
  one class: a model's state, its draws and its iteration (written once, for K models).
- :mod:`.training`: a model's state, atomic checkpoints and the one training loop.
- :mod:`.grouped`: K models of one method trained at once as one grouped network
  (stacked weights under vmap); one model is a group of one.
- :mod:`.train`: :func:`~.train.train_models` (K models into zoo model folders) and
  :func:`~.train.train_model` (one).
- :mod:`.zoo_job`: :func:`~.zoo_job.train_zoo`, a resumable zoo with ground-truth scores.
"""
