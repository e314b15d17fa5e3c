"""Social sign-in: the auth service as an OpenID Connect relying party (code flow + PKCE)."""
