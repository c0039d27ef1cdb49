"""What the page and the command line use: jobs, wording, charts, exports, history, the CLI."""
