"""Who is acting: passwords, tokens, sessions and the authenticated principal.

21 CFR Part 11 asks that only authorised individuals use the system (11.10(d)), that
each signature be unique to one person (11.100(a)) and rest on two components, an id
and a password (11.200(a)), and that password use be controlled (11.300). This package
holds the mechanisms — Argon2id password hashes, hashed tokens, session files — and
:func:`auth.authenticate`, which turns a session or token into a :class:`auth.Principal`
checked against the accounts in the log. Who may do what is ``domain.access``; the
operations on accounts are ``app.identity``.
"""
