"""Policy-field extraction (issue 18) scored against known values: generated and real public documents."""
