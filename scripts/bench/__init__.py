"""`make bench`: the pipeline measured against the emulator's own ceiling, in one run."""
