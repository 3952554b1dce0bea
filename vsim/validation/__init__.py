"""Validation cases shipped with vsim: published figures and theory the model is held to (``vsim check``)."""
