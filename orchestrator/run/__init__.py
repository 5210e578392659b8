"""One run from options to verdict: the pipeline and what lives beside a run."""
