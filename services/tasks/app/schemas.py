"""Request and response models of the tasks service."""
