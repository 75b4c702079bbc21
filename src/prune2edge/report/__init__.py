"""What a build measured, for machines and people: the report schema (report.json), its
assembly, report.md and plots, budgets, and the CI gate (`prune2edge check`)."""
