"""The background engine: one long-lived thread that owns the model and serves a job queue.

The only package that joins Qt to the engine. The UI submits plain job
descriptions and hears back through typed Qt signals carrying plain data
(ints, strings, numpy arrays); it never touches torch, tensors or ORM objects.
"""
