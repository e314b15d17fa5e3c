"""The auth stores on MongoDB, and on FerretDB (the local stack) behind ``Capabilities``."""
