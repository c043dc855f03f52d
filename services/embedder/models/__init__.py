"""The model, apart from what runs it: `backbones` (Inception v3, efficientnet_lite0), their
`weights`, the `features` recipe (pooling, crops, scales) and `pooling` itself."""
