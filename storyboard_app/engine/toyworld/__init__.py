"""A procedural toy world and a small model trained on it, to measure consistency.

``world`` draws pictures from specs, ``parse`` reads specs back from pixels,
``captions`` writes the prompts, ``tokenizer``/``model``/``train`` make the
bundled toy model (``resources/models/toy``).
"""
