"""Code that two or more Taskstream services use: settings, errors, observability, clients."""
