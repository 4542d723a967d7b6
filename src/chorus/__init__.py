"""Chorus: a self-hosted multi-model chat server speaking the Konnect API."""

__version__ = "0.1.0"
