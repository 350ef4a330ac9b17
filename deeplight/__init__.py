"""DeepLight: reconstructing high-resolution night-time lights from multi-modal remote sensing data.

Implements and extends DeepLight (Zhang et al., IJCAI 2024, arXiv:2402.15659). The library never
imports streamlit; the dashboard lives in ``app/`` and ``pages/``.
"""

__version__ = "0.1.0"
