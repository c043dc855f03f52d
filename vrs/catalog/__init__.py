"""The catalog's domain: products, their ids and vectors, and a sample catalog.

- `ids`: the one normalised form of a product id, and its Qdrant point id
- `products`: `Product`, `ProductPatch`, and `StoredProduct` (a product as the store holds it)
- `vectors`: the `Vector` type and the checks a vector passes before it is stored
- `sample`: a catalog drawn on the fly, for machines without real product photos
- `derived`: a catalog made shop-like (more photos per product, colour variant groups) for the demos
"""
