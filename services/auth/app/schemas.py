"""Request and response models of the auth service."""
