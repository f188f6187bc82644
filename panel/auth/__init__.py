"""Sign-in, sign-out, two-factor and the user's own account; policy.py says who may do what."""
