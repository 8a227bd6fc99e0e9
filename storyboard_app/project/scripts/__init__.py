"""Story formats: each module reads one way of writing a story into a :class:`StoryScript`.

``model`` holds the plain data every format produces, ``io`` loads a file and runs the
checks all formats share, and the other modules each parse one syntax.
"""
