"""The hotline benchmark (see README.md); run it with `python3 dev.py bench`."""
