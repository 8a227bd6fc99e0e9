"""The weights Storyboard can use, whether they are here, and getting them.

``catalogue`` names each published model by job with exactly the files it
needs; ``manager`` compares it with the local Hugging Face cache, downloads
an entry's files and removes them again. This is the only place that
downloads anything: rendering and transitions read the cache only.
No Qt and no torch here, so ``storyboard models`` starts quickly.
"""
