"""Exceptions for bad input. Each message names the file or field and says what to do."""

from __future__ import annotations


class DeepLightError(ValueError):
    """Base class of the errors caused by the user's input (files, configs, arguments)."""


class RasterError(DeepLightError):
    """A raster is unreadable, lacks georeferencing, or does not fit the expected grid."""


class RegionError(DeepLightError):
    """A region file or geometry is unusable (no CRS, no overlap, unknown column...)."""


class ConfigError(DeepLightError):
    """A configuration file or model argument is invalid."""


class CheckpointError(DeepLightError):
    """A checkpoint is missing, corrupt, or belongs to another model."""
