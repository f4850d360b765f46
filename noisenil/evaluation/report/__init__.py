"""Comparison reports: Markdown and HTML tables, plots and audio examples."""
