"""Large and degenerate documents through the local stack (issue 16); see ``bench.large.run``."""
