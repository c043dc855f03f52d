"""The feature extractor: backbones, their weights, and the inference engine."""
