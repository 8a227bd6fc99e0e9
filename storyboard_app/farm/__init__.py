"""Farm rendering: many projects' panels on long-lived Ray workers, one writer per project.

The driver (this process) reads every project's render inputs as plain data
(:mod:`.plan`), hands identity and panel tasks to worker actors
(:mod:`.worker`) that keep the model loaded, and commits each returned panel
into its project as results arrive (:mod:`.driver`). Workers never open a
project database. Ray is an optional extra (``storyboard_app[farm]``); only
:mod:`.driver` imports it.
"""
