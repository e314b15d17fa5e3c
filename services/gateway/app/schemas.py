"""Request and response models of the gateway service."""
