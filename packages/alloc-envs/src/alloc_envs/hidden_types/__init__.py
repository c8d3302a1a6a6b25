"""Hidden types: a controlled task for parameter-sharing strategies (``alloc/HiddenTypes-v0``)."""
