"""The baseline zoo: the paper's three families of competitors (calibration-based, single-modal SR,
multi-modal SR), each a real, trainable module with DeepLightSR's forward interface."""
