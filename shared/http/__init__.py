"""HTTP pieces every service's API shares: one app per listener (``listener``) with problem+json
errors, body limits, input checks and an authentication-failure throttle; health; bearer auth;
an embeddable server."""
