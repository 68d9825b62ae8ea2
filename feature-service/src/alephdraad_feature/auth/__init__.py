"""Who is calling: core's access tokens, verified locally against core's JWKS (DESIGN section 4)."""
