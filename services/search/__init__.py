"""Search service: similar products for a photo or a product, within a budget."""
