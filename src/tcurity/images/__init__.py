"""Phase B's image side: the tile classifier, the curated problem bank and what builds them.

Torch-free at import: :mod:`tcurity.images.classes`, :mod:`tcurity.images.tiles`, :mod:`tcurity.images.bank`
and :mod:`tcurity.images.render` are the core the AI server needs beside :mod:`tcurity.problems`;
:mod:`tcurity.images.classifier` (torch) loads the registered model; training, curation, the attacker and
evaluation modules are for pipelines and notebooks only.
"""
