"""Models: DeepLightSR (Zhang et al., IJCAI 2024), the baseline zoo, the registry and checkpoints.

Use :func:`deeplight.models.registry.get_model` and :func:`~deeplight.models.registry.list_models`;
see docs/models.md.
"""
