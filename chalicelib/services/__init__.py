"""The rules, in plain Python: each module is one part of the story."""
