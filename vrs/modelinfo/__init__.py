"""Facts about the models that need no model stack (torch stays out of search and the CLI).

- `dimensions`: the vector size of each backbone vrs knows, by model id
- `stack`: whether the embedder's model stack (torch, torchvision, timm) is installed
"""
