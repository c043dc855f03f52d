"""Where image bytes come from, fetched safely: inline, a file under the image root, or an
allowed web host.

- `source`: `ImageFetcher`, the one way any service loads an image (`ImageInput` in, bytes out)
- `uri`: image URIs parsed strictly
- `files`: file:// reads inside the root, in a bounded pool with a deadline
- `allowlist`: which host and port pairs http(s) URIs may reach
"""
